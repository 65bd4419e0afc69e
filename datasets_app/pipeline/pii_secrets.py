"""Regex specs for credentials: cloud/API tokens, private keys, JWTs, password assignments.

Every spec reports entity ``SECRET``; the spec name (``aws_access_key``,
``github_token``, ``jwt``, ``password_assignment``...) is the finding's
``recognizer`` so reviewers and redaction policies can tell the kinds apart.
"""

from __future__ import annotations

import math
import re

import regex

from datasets_app.pipeline.pii_codes import code_specs
from datasets_app.pipeline.pii_types import SECRET
from datasets_app.pipeline.recognizers import PatternSpec

_ASSIGNMENT_KEYS = (
    "password", "passwd", "passwort", "passphrase", "pwd", "pass", "secret", "client_secret",
    "secret_key", "secretkey", "token", "access_token", "auth_token", "refresh_token",
    "id_token", "api_key", "apikey", "api-key", "x-api-key", "api key", "access_key",
    "access key", "secret key", "private_key", "credentials", "credential", "auth",
    "contraseña", "contrasena", "clave", "clave de acceso", "clave secreta", "pin", "nip",
    "passcode", "pass code", "door code", "alarm code", "access code", "security code",
    "código de acceso", "codigo de acceso", "código de la puerta", "código de puerta",
    "código de seguridad", "codigo de seguridad", "código de alarma", "cvv", "cvc", "otp",
    "one-time code", "accountkey", "sharedaccesskey", "client secret", "mot de passe", "senha",
    "contraseña temporal", "password temporal", "temporary password", "signing key", "salt",
    "puk", "backup code", "backup codes", "recovery code", "recovery codes", "códigos de respaldo",
)  # fmt: skip
# Substrings one of which every key above contains (a text without any skips those specs).
KEY_WORDS = (
    "pass", "pwd", "secret", "token", "key", "auth", "clave", "contrase", "pin", "nip", "code",
    "código", "codigo", "cvv", "cvc", "otp", "salt", "senha", "mot de", "cred", "puk", "backup",
    "recovery", "signing", "access",
)  # fmt: skip
# Words between the key and "is"/"es" in prose: "la contraseña del wifi es ...".
_PROSE_GAP = r"(?:[ \t]+[\w'’]{1,12}){0,6}?"
_AWS_PREFIXES = (
    "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "APKA", "AROA", "ASCA",
)  # fmt: skip
_KEY_ALT = "|".join(sorted((re.escape(k) for k in _ASSIGNMENT_KEYS), key=len, reverse=True))
_PLACEHOLDERS = frozenset(
    {"null", "none", "nil", "true", "false", "undefined", "redacted", "hidden", "required",
     "optional", "string", "yes", "no", "n/a", "reset", "expired", "invalid", "enabled",
     "disabled", "on", "off", "ok", "success", "failed", "bearer", "basic", "missing"}
)  # fmt: skip


def _value_accept(value: str) -> int:
    """Reject placeholders, masks and template variables; trim a trailing sentence period
    and a closing parenthesis that belongs to the sentence, not to the value."""
    trimmed = value[:-1] if value.endswith((".", ",")) else value
    if trimmed.endswith(")") and trimmed.count(")") > trimmed.count("("):
        trimmed = trimmed[:-1]
    lowered = trimmed.lower()
    if len(trimmed) < 3 or lowered in _PLACEHOLDERS or set(trimmed) <= set("*x•#.-_"):
        return 0
    if trimmed.startswith(("${", "{{", "%(", "<", "$(")) or lowered.startswith("env"):
        return 0
    return len(trimmed)


def _prose_value_accept(value: str) -> int:
    """A value after "my password is": it must hold a digit or a symbol ("revoked." is not)."""
    accepted = _value_accept(value)
    trimmed = value[:accepted]
    return accepted if re.search(r"[\d\W_]", trimmed) else 0


def _token(
    name: str, pattern: str, score: float = 0.95, needle: str | tuple[str, ...] | None = None
) -> PatternSpec:
    """A fixed-format token spec; the whole match (group 1) is the secret."""
    return PatternSpec(name, SECRET, re.compile(pattern), score, group=1, needle=needle)


# (name, regex of the whole token, substrings one of which the token must contain). Formats
# from each vendor's documentation; docs/pii.md lists the sources.
VENDOR_TOKENS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("aws_access_key", r"(?:" + "|".join(_AWS_PREFIXES) + r")[A-Z0-9]{16}", _AWS_PREFIXES),
    ("github_token", r"gh[pousr]_[A-Za-z0-9]{30,255}", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    ("github_token", r"github_pat_[A-Za-z0-9_]{22,255}", ("_pat_",)),
    ("gitlab_token", r"gl(?:pat|dt|rt|ptt|oas|cbt|ft|imt|agent|soat)-[A-Za-z0-9_-]{20,}",
     ("glpat-", "gldt-", "glrt-", "glptt-", "gloas-", "glcbt-", "glft-", "glimt-", "glagent-",
      "glsoat-")),
    ("slack_token", r"xox[abposre]-[A-Za-z0-9-]{10,}", ("xox",)),
    ("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}", ("hooks.slack",)),
    ("stripe_key", r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}", ("_live_", "_test_")),
    ("stripe_webhook_secret", r"whsec_[A-Za-z0-9]{24,}", ("whsec_",)),
    ("openai_key", r"sk-(?:proj-|ant-(?:api|admin)\d\d-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
     ("sk-",)),
    ("google_api_key", r"AIza[0-9A-Za-z_-]{35}", ("AIza",)),
    ("google_oauth_secret", r"GOCSPX-[A-Za-z0-9_-]{28}", ("GOCSPX-",)),
    ("huggingface_token", r"hf_[A-Za-z0-9]{30,}", ("hf_",)),
    ("npm_token", r"npm_[A-Za-z0-9]{36}", ("npm_",)),
    ("pypi_token", r"pypi-AgE[A-Za-z0-9_-]{50,}", ("pypi-AgE",)),
    ("docker_hub_token", r"dckr_pat_[A-Za-z0-9_-]{20,}", ("dckr_pat_",)),
    ("sendgrid_key", r"SG\.[\w-]{22}\.[\w-]{43}", ("SG.",)),
    ("twilio_key", r"SK[0-9a-f]{32}", ("SK",)),
    ("mailgun_key", r"key-[0-9a-f]{32}", ("key-",)),
    ("mailchimp_key", r"[0-9a-f]{32}-us\d{1,2}", ("-us",)),
    ("shopify_token", r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}", ("shpat_", "shpss_", "shpca_", "shppa_")),
    ("square_token", r"(?:sq0atp|sq0csp)-[A-Za-z0-9_-]{22,}|EAAA[A-Za-z0-9_-]{60}", ("sq0", "EAAA")),
    ("digitalocean_token", r"do[opr]_v1_[a-f0-9]{64}", ("_v1_",)),
    ("databricks_token", r"dapi[a-f0-9]{32}(?:-\d)?", ("dapi",)),
    ("atlassian_token", r"ATATT3[A-Za-z0-9_=-]{100,}|ATBB[A-Za-z0-9_=-]{28,}", ("ATATT", "ATBB")),
    ("telegram_bot_token", r"\d{8,10}:AA[A-Za-z0-9_-]{33}", (":AA",)),
    ("postman_key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ("PMAK-",)),
    ("linear_key", r"lin_api_[A-Za-z0-9]{40}", ("lin_api_",)),
    ("notion_token", r"(?:secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{40,})", ("secret_", "ntn_")),
    ("grafana_token", r"gl(?:sa|c)_[A-Za-z0-9_+/=-]{32,}", ("glsa_", "glc_")),
    ("newrelic_key", r"NRAK-[A-Z0-9]{27}", ("NRAK-",)),
    ("vault_token", r"hv[sb]\.[A-Za-z0-9_-]{24,}", ("hvs.", "hvb.")),
    ("terraform_token", r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,}", (".atlasv1.",)),
    ("age_secret_key", r"AGE-SECRET-KEY-1[A-Z0-9]{58}", ("AGE-SECRET-KEY",)),
    ("supabase_token", r"sbp_[a-f0-9]{40}", ("sbp_",)),
    ("groq_key", r"gsk_[A-Za-z0-9]{48,}", ("gsk_",)),
    ("replicate_token", r"r8_[A-Za-z0-9]{37}", ("r8_",)),
    ("perplexity_key", r"pplx-[A-Za-z0-9]{40,}", ("pplx-",)),
    ("doppler_token", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}", ("dp.",)),
    ("pulumi_token", r"pul-[a-f0-9]{40}", ("pul-",)),
    ("alibaba_access_key", r"LTAI[A-Za-z0-9]{20}", ("LTAI",)),
    ("azure_client_secret", r"[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}", ("Q~",)),
    ("facebook_token", r"EAA[A-Za-z0-9]{100,}", ("EAA",)),
    ("braintree_token", r"access_token\$production\$[a-z0-9]{16}\$[a-f0-9]{32}", ("$production$",)),
    ("jwt", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", ("eyJ",)),
    ("sentry_dsn", r"https://[0-9a-f]{32}@[\w.-]*sentry\.io/\d+", ("sentry.io",)),
)  # fmt: skip


def _vendor_token_specs() -> list[PatternSpec]:
    """Tokens whose format alone identifies them (prefix + fixed alphabet/length)."""
    return [
        _token(name, rf"(?<![A-Za-z0-9_-])({pattern})(?![A-Za-z0-9_-])", needle=needles)
        for name, pattern, needles in VENDOR_TOKENS
    ]


def _private_key_spec() -> PatternSpec:
    """PEM private key blocks (RSA/EC/OPENSSH/PGP/encrypted), including truncated ones."""
    return PatternSpec(
        "private_key",
        SECRET,
        re.compile(
            r"(-----BEGIN[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[\s\S]{0,8000}?-----END[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----"
            r"|[A-Za-z0-9+/=\s:,-]{0,8000}))"
        ),
        1.0,
        group=1,
        needle="PRIVATE KEY",
    )


def _assignment_specs() -> list[PatternSpec]:
    """``password=...``, ``"api_key": "..."``, ``token: ...``, ``Bearer ...``, ``aws_secret...``."""
    # One pattern for every "key <separator> value" form; the ``regex`` module's branch reset
    # ``(?|...)`` numbers the value group 1 in each alternative (and runs this ~5x faster than re).
    unquoted = r"((?:[^\s\"'`,;&}<>\]]|&(?![\w.-]+=)){3,256})"  # "&" ends it before "x=" only
    separator = r"\s*(?:[:=]|=>|:=)\s*"
    assignment = regex.compile(
        rf"(?i)(?<![A-Za-z])(?:{_KEY_ALT})[\"']?(?|"
        rf"{separator}\"([^\"\n]{{3,256}})\"|{separator}'([^'\n]{{3,256}})'|{separator}`([^`\n]{{3,256}})`"
        rf"|{separator}(?![\"'`]){unquoted}"
        rf"|[\w ]{{0,30}}?\([ \t]*(?=\S*[\d\W_])(\S{{4,64}}?)\)(?=[\s.,;:]|$))"
    )
    bare = regex.compile(
        r"(?i)(?<![A-Za-z])(?:password|passwd|contraseña|contrasena|pwd)"
        r"(?:[ \t]+(?:temporal|provisional|nueva|new|temporary|actual|inicial|initial|default|"
        r"wifi|del wifi|de acceso|de la red))?[ \t]+"
        r"((?![(\[{<])(?=\S*[A-Za-z])(?=\S*\d)[^\s\"'`,;]{6,64})"
    )
    prose = regex.compile(
        rf"(?i)(?<![A-Za-z])(?:{_KEY_ALT}){_PROSE_GAP}[ \t]+(?:is|was|es|era|ser[aá]|ser[ií]a|"
        rf"queda|qued[oó]|fue|will be|would be|now|ahora|nueva|new)[ \t]*:?[ \t]+[\"'“]?{unquoted}"
    )
    return [
        PatternSpec(
            "password_in_prose",
            SECRET,
            bare,  # type: ignore[arg-type]
            0.75,
            group=1,
            accept=_prose_value_accept,
            words=("pass", "pwd", "contrase"),
        ),
        PatternSpec(
            "password_in_prose",
            SECRET,
            prose,  # type: ignore[arg-type]
            0.8,
            group=1,
            accept=_prose_value_accept,
            words=KEY_WORDS,
        ),
        PatternSpec(
            "aws_secret_key",
            SECRET,
            re.compile(
                r"(?i)aws[\w .-]{0,20}?(?:secret|private)[\w .-]{0,20}?[\"']?\s*(?:[:=]|=>)\s*"
                r"[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
            ),
            0.97,
            group=1,
        ),
        PatternSpec(
            "password_assignment",
            SECRET,
            assignment,  # type: ignore[arg-type]
            0.8,
            group=1,
            words=KEY_WORDS,
            accept=_value_accept,
        ),
        PatternSpec(
            "aws_secret_key",
            SECRET,
            re.compile(
                r"(?<![A-Za-z0-9/+=])((?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
            ),
            0.3,
            group=1,
            context=("aws", "secret", "akia", "asia", "s3", "iam"),
            context_score=0.85,
            requires_context=True,
            window=80,
        ),
        PatternSpec(
            "bearer_token",
            SECRET,
            re.compile(r"(?i)\b(?:bearer|token|basic)\s+([A-Za-z0-9._~+/-]{16,}=*)"),
            0.9,
            group=1,
        ),
    ]


_ENV_KEY = (
    r"(?:[A-Z0-9]+_)*(?:[A-Z]{0,8}(?:PASSWORD|PASSWD|SECRET|TOKEN|APIKEY)|API_?KEY|KEY|PASS|PWD|"
    r"CREDENTIALS?|AUTH|"
    r"SIGNATURE|SALT|DSN|PRIVATE_KEY|ACCOUNT_?KEY|CONN(?:ECTION)?_?STR(?:ING)?)(?:_[A-Z0-9]+)*"
)
# Keys that name something public or a setting about a secret, not the secret itself.
_PUBLIC_OR_SETTING_KEY = (
    r"(?![A-Z0-9_]*(?:PUBLIC|PUBLISHABLE))(?![A-Z0-9_]*_(?:ID|URL|URI|HOST|PORT|PATH|FILE|NAME|"
    r"TTL|EXPIRY|EXPIRES|LENGTH|SIZE|TYPE|ALGORITHM|USER|USERNAME|VERSION)[ \t]*[=:])"
)


def _env_accept(value: str) -> int:
    """An env/config value that is not a placeholder, a number or a boolean."""
    accepted = _value_accept(value)
    trimmed = value[:accepted]
    if accepted < 6 or trimmed.isdigit() or trimmed.lower() in ("true", "false"):
        return 0
    return accepted


def _env_spec() -> PatternSpec:
    """``DB_PASSWORD=...``, ``export STRIPE_API_KEY=...``, ``SECRET_KEY: ...`` in .env/YAML."""
    pattern = re.compile(
        rf"(?m)^[ \t]*(?:export[ \t]+|-[ \t]+)?(?P<key>{_PUBLIC_OR_SETTING_KEY}{_ENV_KEY})[ \t]*[=:][ \t]*[\"']?"
        r"([^\s\"'#]{3,512})"
    )

    def accept(value: str) -> int:
        return _env_accept(value)

    return PatternSpec(
        "env_secret", SECRET, pattern, 0.9, group=2, accept=accept, needle=("=", ":")
    )


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s character distribution."""
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _high_entropy_accept(value: str) -> int:
    """Random-looking tokens: mixed case and digits, >= 4.2 bits/char, not a hex digest."""
    core = value.rstrip("=")
    if not (re.search(r"[a-z]", core) and re.search(r"[A-Z]", core) and re.search(r"\d", core)):
        return 0
    if re.fullmatch(r"[0-9a-fA-F-]+", core) or core.count("-") > 3:
        return 0
    if core.startswith(("/", "./")) or (core.count("/") > 2 and "+" not in core):
        return 0  # a path, not base64
    return len(value) if shannon_entropy(core) >= 4.2 else 0


SECRET_CONTEXT = (
    "key", "token", "secret", "auth", "bearer", "signature", "credential", "password",
    "passwd", "pwd", "clave", "contraseña", "api", "sig=", "x-", "private", "webhook",
)  # fmt: skip


def _high_entropy_spec() -> PatternSpec:
    """Long random tokens anywhere; near a credential word they are certain."""
    return PatternSpec(
        "high_entropy_token",
        SECRET,
        re.compile(r"(?<![\w+/=.-])([A-Za-z0-9+/_-]{32,400}={0,2})(?![\w+/=.-]|\.\w)"),
        0.6,
        group=1,
        accept=_high_entropy_accept,
        context=SECRET_CONTEXT,
        context_score=0.9,
        window=40,
    )


def _short_code_specs() -> list[PatternSpec]:
    """PINs and card codes written without a separator ("PIN 4821", "cvv 123"), and command
    line passwords (``mysql -pS3cret``, ``--password S3cret``, ``curl -u ana:S3cret``)."""
    return [
        PatternSpec(
            "pin_code",
            SECRET,
            re.compile(
                r"(?i)(?<![\w-])(?:pin|nip|cvv2?|cvc|otp|passcode|door code|c[oó]digo de "
                r"(?:acceso|seguridad|la puerta|puerta|alarma))(?:[ \t]+(?:code|number|no\.?|"
                r"n[uú]mero))?[ \t]*#?[ \t]*(\d{3,8}#?)(?![\w-])"
            ),
            0.85,
            group=1,
            digits=True,
            words=("pin", "nip", "cvv", "cvc", "otp", "passcode", "code", "código", "codigo"),
        ),
        PatternSpec(
            "command_line_password",
            SECRET,
            re.compile(
                r"(?:(?<=\s)-p|--password(?:=|[ \t]+)|(?<=\s)-u[ \t]+[\w.@-]{1,64}:)"
                r"([\"']?[^\s\"']{3,128}[\"']?)"
            ),
            0.85,
            group=1,
            accept=_command_accept,
            needle=(" -p", "--password", " -u "),
        ),
    ]


def _command_accept(value: str) -> int:
    """A ``-p``/``-u user:`` value that is not a flag word, a port or a path."""
    stripped = value.strip("\"'")
    if stripped.isdigit() or stripped.startswith(("/", "-", "$")) or stripped.isalpha():
        return 0
    return _value_accept(value)


_SYMBOLS = "!#$%&*?^~@"
_COMPLEX = re.compile(r"(?<![^\s\"'\[,;|])([^\s\"'()\[\]<>/:=,;|]{8,64})")


def _complex_password_accept(value: str) -> int:
    """A token with lower- and upper-case letters, a digit and a symbol (``Sunflower!Delta88``,
    ``Qx7#pL2m``): a password by shape whatever the words around it. Not an e-mail, not a
    placeholder; trailing sentence punctuation is not part of it."""
    core = value.rstrip(".,;")
    if not (
        any(c.islower() for c in core)
        and any(c.isupper() for c in core)
        and any(c.isdigit() for c in core)
        and any(c in _SYMBOLS for c in core)
    ):
        return 0
    if re.search(r"@[\w-]+\.[A-Za-z]", core) or core.startswith(("$", "#", "@", "&")):
        return 0  # an e-mail, a variable, an anchor or a handle
    return len(core) if len(core) >= 8 else 0


def _shape_specs() -> list[PatternSpec]:
    """Credentials recognised by their shape or their word: complex passwords anywhere, and
    hex keys after an API-key or token word (a bare hex run is a digest, kept)."""
    return [
        PatternSpec(
            "complex_password",
            SECRET,
            _COMPLEX,
            0.7,
            group=1,
            accept=_complex_password_accept,
            needle=tuple(_SYMBOLS),
        ),
        PatternSpec(
            "hex_api_key",
            SECRET,
            re.compile(
                r"(?i)\b(?:api[ _-]?key|apikey|secret(?: key)?|access[ _-]?key|auth[ _-]?token|"
                r"token|clave (?:de )?api|llave)\b[^\n\w]{0,6}(?:(?:is|es|was)[ \t]+)?"
                r"([0-9a-f]{32,64})(?![\w-])"
            ),
            0.85,
            group=1,
            words=("key", "token", "secret", "clave", "llave"),
        ),
    ]


def secret_specs() -> list[PatternSpec]:
    """All credential specs, most specific first."""
    return [
        *_vendor_token_specs(),
        _private_key_spec(),
        *_assignment_specs(),
        _env_spec(),
        _high_entropy_spec(),
        *_short_code_specs(),
        *_shape_specs(),
        *code_specs(),
    ]
