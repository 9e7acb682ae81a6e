from tests.conftest import EXAMPLES
from tools.put_company_record import main


def test_putting_a_record_twice_binds_both_keys_and_keeps_its_creation_time(aws):
    assert main([str(EXAMPLES / "company_record.example.json"), "--env", "dev", "--api-key-id", "k1"]) == 0
    first = aws.table("company-data").get_item(Key={"company_id": "ci-demo-001", "project_id": "pi-demo-001"})["Item"]
    assert main([str(EXAMPLES / "company_record.example.json"), "--env", "dev", "--api-key-id", "k2"]) == 0
    second = aws.table("company-data").get_item(Key={"company_id": "ci-demo-001", "project_id": "pi-demo-001"})["Item"]
    assert first["api_key_ids"] == ["k1"]
    assert second["api_key_ids"] == ["k1", "k2"]
    assert second["created_at"] == first["created_at"]
