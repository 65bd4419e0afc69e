"""Job pages: launch with defaults, follow live, cancel."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.roles import Action
from accounts.services import PermissionDenied, project_ids_allowing
from audit.services import actor_from_request
from datasets_app.models import Dataset, DatasetStatus
from datasets_app.services import visible_datasets
from trainer import services
from trainer.forms import JobForm
from trainer.models import BaseModel
from trainer.pages import job_sections


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
    sections = job_sections(request, job)
    return render(request, "trainer/detail.html", {"job": job, "sections": sections})


@login_required
def model_version(request: HttpRequest, pk: int) -> HttpResponse:
    """A trained model version: lineage and its differential-privacy guarantee."""
    version = get_object_or_404(services.visible_model_versions(request.user), pk=pk)
    return render(request, "trainer/model_version.html", {"version": version})


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(services.visible_jobs(request.user), pk=pk)
    try:
        services.request_cancel(actor_from_request(request), job)
    except PermissionDenied:
        messages.error(request, "Your role in this project does not allow cancelling jobs.")
    return redirect("job-page", pk=pk)
