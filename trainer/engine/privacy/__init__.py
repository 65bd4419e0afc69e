"""What a trained model remembers of its training data: the privacy audit's measurements.

Pure library (torch + transformers, no Django; the platform's ``privacy`` app feeds it
decrypted records in memory and stores what it returns):

* ``canaries``: synthetic secrets planted in the training split only (Carlini et al., "The
  Secret Sharer", 2019), planned from a per-job seed;
* ``exposure``: each canary's exposure, by sampled rank and by a fitted distribution;
* ``records``: per-record losses and greedy reproduction from one teacher-forced pass, giving
  ``extraction`` (k-extractable rate, Carlini et al. 2021/2023) and ``membership`` (loss and
  reference-calibrated attacks: AUC, TPR at 1% FPR);
* ``regurgitation``: personal values of the raw data that come back in generations, compared
  by keyed digest (no plaintext needed);
* ``audit``: all four in one run, its report (numbers apart from quotes) and the policy check.

``docs/privacy.md`` says what each number means and what it does not prove.
"""
