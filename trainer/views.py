"""Job pages (launch with the estimate, follow live, cancel) and model pages (the list, a
version, a comparison)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Project
from accounts.roles import Action
from accounts.services import PermissionDenied, project_ids_allowing
from audit.services import actor_from_request
from datasets_app.models import Dataset, DatasetStatus
from datasets_app.services import visible_datasets
from trainer import checkpoints, model_pages, services
from trainer.forms import JobForm
from trainer.models import BaseModel, ModelVersion
from trainer.pages import job_sections, model_version_sections


def _job_form(request: HttpRequest, dataset: Dataset) -> JobForm:
    """The job form for ``dataset``, bound to the POST when there is one."""
    default = BaseModel.objects.filter(is_default=True).first()
    others = (
        visible_datasets(request.user)
        .filter(project_id=dataset.project_id, status=DatasetStatus.APPROVED)
        .exclude(pk=dataset.pk)
    )
    return JobForm(
        request.POST or None,
        initial={"base_model": default},
        version=dataset.latest_version,
        validation_datasets=others,
    )


def _visible_dataset(request: HttpRequest) -> Dataset:
    pk = request.GET.get("dataset") or request.POST.get("dataset")
    return get_object_or_404(visible_datasets(request.user), pk=pk if str(pk).isdigit() else None)


@login_required
def new_job(request: HttpRequest) -> HttpResponse:
    """Configure a job on an approved dataset (``?dataset=<id>``); the estimate beside the
    form follows the settings (``estimate``, called by static/js/job_form.js)."""
    dataset = _visible_dataset(request)
    form = _job_form(request, dataset)
    version = dataset.latest_version
    if request.method == "POST" and form.is_valid():
        if version is None:
            form.add_error(None, "The dataset is not approved yet: nothing can train on it.")
        else:
            try:
                job = services.create_job(
                    actor_from_request(request),
                    version,
                    base_model=form.cleaned_data["base_model"] or _default_base_model(),
                    method=form.cleaned_data["method"],
                    hyperparameters=form.hyperparameters(),
                    privacy_audit=form.privacy_audit(),
                    validation_version=form.validation_version(),
                )
                return redirect("job-page", pk=job.pk)
            except services.JobRequestError as exc:
                form.add_error(form.field_for(exc.field), exc.message)
            except PermissionDenied:
                form.add_error(None, "Your role in this project does not allow launching jobs.")
    can_launch = dataset.project_id in project_ids_allowing(request.user, Action.LAUNCH_JOB)
    return render(
        request,
        "trainer/new.html",
        {"form": form, "dataset": dataset, "version": version, "can_launch": can_launch},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def estimate(request: HttpRequest) -> JsonResponse:
    """The job form's settings → {"estimate": {...}, "errors": {}} (200), or the errors by
    form field (400; 403 for a role that may not launch jobs). Creates nothing."""
    dataset = _visible_dataset(request)
    form = _job_form(request, dataset)
    version = dataset.latest_version
    if version is None:
        return _form_errors({"__all__": ["The dataset is not approved yet."]})
    if not form.is_valid():
        return _form_errors({name: list(errors) for name, errors in form.errors.items()})
    try:
        result = services.estimate_request(
            actor_from_request(request),
            version,
            base_model=form.cleaned_data["base_model"] or _default_base_model(),
            method=form.cleaned_data["method"],
            hyperparameters=form.hyperparameters(),
            validation_version=form.validation_version(),
        )
    except services.JobRequestError as exc:
        return _form_errors({form.field_for(exc.field) or "__all__": [exc.message]})
    except PermissionDenied:
        refusal = "Your role in this project does not allow launching jobs."
        return _form_errors({"__all__": [refusal]}, status=403)
    return JsonResponse({"estimate": result, "errors": {}})


def _form_errors(errors: dict[str, list[str]], status: int = 400) -> JsonResponse:
    return JsonResponse({"estimate": None, "errors": errors}, status=status)


def _default_base_model() -> BaseModel | None:
    return BaseModel.objects.filter(is_default=True).first()


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Status, live progress and loss curve (static/js/job.js polls the API), evaluation."""
    job = get_object_or_404(
        services.visible_jobs(request.user).select_related(
            "base_model", "dataset_version__dataset"
        ),
        pk=pk,
    )
    context = {
        "job": job,
        "model_version": ModelVersion.objects.filter(job=job).first(),
        "sections": job_sections(request, job),
    }
    return render(request, "trainer/detail.html", context)


@login_required
def models(request: HttpRequest) -> HttpResponse:
    """The model versions of the caller's projects, by project (``?project=<id>``: one)."""
    versions = services.visible_model_versions(request.user).select_related(
        "project", "job__dataset_version__dataset"
    )
    project = request.GET.get("project", "")
    if project.isdigit():
        versions = versions.filter(project_id=int(project))
    by_project: dict[str, list[ModelVersion]] = {}
    for version in versions.order_by("project__name", "-created_at"):
        by_project.setdefault(version.project.name, []).append(version)
    projects = Project.objects.filter(
        pk__in=project_ids_allowing(request.user, Action.VIEW_PROJECT)
    ).order_by("name")
    context = {"by_project": by_project, "projects": projects, "chosen": project}
    return render(request, "trainer/models.html", context)


@login_required
def model_version(request: HttpRequest, pk: int) -> HttpResponse:
    """A trained model version: lineage, metrics, curves, evaluation, checkpoints, its
    differential-privacy guarantee and the sections other apps register."""
    version = get_object_or_404(
        services.visible_model_versions(request.user).select_related(
            "job__base_model", "job__dataset_version__dataset", "job__validation_version__dataset"
        ),
        pk=pk,
    )
    summary = model_pages.summarize(version)
    context = {
        "version": version,
        "summary": summary,
        "chart": summary.chart_data(),
        "checkpoints": checkpoints.list_checkpoints(version.job),
        # The sections other apps register (trainer.pages: privacy's audit).
        "sections": model_version_sections(request, version),
    }
    return render(request, "trainer/model_version.html", context)


@login_required
def compare(request: HttpRequest) -> HttpResponse:
    """Two or more model versions side by side (``?versions=1&versions=2`` or ``1,2``):
    metrics table and overlaid curves. A version the caller cannot see is a 404."""
    ids = _version_ids(request.GET.getlist("versions"))
    found = services.visible_model_versions(request.user).in_bulk(ids)
    if len(found) != len(ids):
        raise Http404("No such model version.")
    summaries = [model_pages.summarize(found[pk]) for pk in ids]
    context = {
        "summaries": summaries,
        "rows": model_pages.comparison_rows(summaries),
        "charts": [summary.chart_data() for summary in summaries],
        "too_few": len(summaries) < 2,
    }
    return render(request, "trainer/compare.html", context)


MAX_COMPARED = 8


def _version_ids(values: list[str]) -> list[int]:
    """Distinct ids, in order, from repeated and comma-separated values; 404 for a value that
    is not an id or for more than MAX_COMPARED versions."""
    ids: list[int] = []
    for part in ",".join(values).split(","):
        if not part.strip():
            continue
        if not part.strip().isdigit():
            raise Http404("No such model version.")
        if int(part) not in ids:
            ids.append(int(part))
    if len(ids) > MAX_COMPARED:
        raise Http404(f"Compare at most {MAX_COMPARED} versions at once.")
    return ids


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(services.visible_jobs(request.user), pk=pk)
    try:
        services.request_cancel(actor_from_request(request), job)
    except PermissionDenied:
        messages.error(request, "Your role in this project does not allow cancelling jobs.")
    return redirect("job-page", pk=pk)
