from audit.models import AuditEvent
from datasets_app.models import Dataset

def test_a(world):
    assert Dataset.objects.count() == 4
    Dataset.objects.filter(status="needs_review").update(name="zz")
    Dataset.objects.filter(status="needs_review").first().findings.all().delete()
    assert world.api("owner").get("/api/v1/datasets/").status_code == 200

def test_b(world):
    assert Dataset.objects.count() == 4
    r = world.api("steward").get(f"/api/v1/datasets/{world.a.review_dataset.pk}/records/?raw=1")
    assert r.status_code == 200, r.content
    print(r.json())
