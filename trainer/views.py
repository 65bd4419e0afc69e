"""Job pages: launch with defaults, follow live, cancel."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.services import PermissionDenied
from audit.services import actor_from_request
from datasets_app.services import visible_datasets
from trainer import services
from trainer.forms import JobForm
from trainer.models import BaseModel
from trainer.pages import job_sections, model_version_sections


@login_required
def new_job(request: HttpRequest) -> HttpResponse:
    """Configure a job on an approved dataset (``?dataset=<id>``)."""
    dataset = get_object_or_404(
        visible_datasets(request.user), pk=request.GET.get("dataset") or request.POST.get("dataset")
    )
    default = BaseModel.objects.filter(is_default=True).first()
    form = JobForm(request.POST or None, initial={"base_model": default})
    version = dataset.latest_version
    if request.method == "POST" and form.is_valid():
        if version is None:
            form.add_error(None, "The dataset is not approved yet: nothing can train on it.")
        else:
            try:
                job = services.create_job(
                    actor_from_request(request),
                    version,
                    base_model=form.cleaned_data["base_model"] or default,
                    method=form.cleaned_data["method"],
                    hyperparameters=form.hyperparameters(),
                    privacy_audit=form.privacy_audit(),
                )
                return redirect("job-page", pk=job.pk)
            except services.JobRequestError as exc:
                form.add_error(form.field_for(exc.field), exc.message)
            except PermissionDenied:
                form.add_error(None, "Your role in this project does not allow launching jobs.")
    return render(
        request,
        "trainer/new.html",
        {"form": form, "dataset": dataset, "version": version},
        status=400 if form.errors else 200,
    )


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Status, live progress and loss curve (static/js/job.js polls the API), evaluation."""
    job = get_object_or_404(
        services.visible_jobs(request.user).select_related(
            "base_model", "dataset_version__dataset"
        ),
        pk=pk,
    )
    sections = job_sections(request, job)
    return render(request, "trainer/detail.html", {"job": job, "sections": sections})


@login_required
def model_version(request: HttpRequest, pk: int) -> HttpResponse:
    """A trained model version: lineage, its differential-privacy guarantee and the sections
    other apps register (``trainer.pages``: the privacy audit)."""
    version = get_object_or_404(services.visible_model_versions(request.user), pk=pk)
    sections = model_version_sections(request, version)
    return render(request, "trainer/model_version.html", {"version": version, "sections": sections})


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(services.visible_jobs(request.user), pk=pk)
    try:
        services.request_cancel(actor_from_request(request), job)
    except PermissionDenied:
        messages.error(request, "Your role in this project does not allow cancelling jobs.")
    return redirect("job-page", pk=pk)
