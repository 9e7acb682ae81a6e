"""The wake-ups of scheduled first messages in both environments: the schedule group, the role its
schedules deliver with (this account's scheduler only; a message on a channel queue only), and what
each processor may do to arm one (issue 12)."""

from __future__ import annotations

import pytest

from shared.channels import Channel
from shared.consent.wakeup_names import schedule_group_name
from tests.infra.template_queries import function, granted, listed, one, resource_name, resources, without_hash

CHANNELS = list(Channel)
QUEUES = ("Queue", "DeadLetterQueue")  # the wake-up, and where it goes when it cannot be delivered


def _delivery_role(template) -> tuple[str, dict]:
    return one(template, "AWS::IAM::Role", {"RoleName": f"ai-multi-comms-wakeup-scheduler-{_env(template)}"})


def _env(template) -> str:
    [(_, group)] = resources(template, "AWS::Scheduler::ScheduleGroup").items()
    return group["Properties"]["Name"].removeprefix("ai-multi-comms-schedules-")


def test_one_schedule_group_named_for_the_environment(synthesised):
    template = synthesised.template("processors")
    one(template, "AWS::Scheduler::ScheduleGroup", {"Name": schedule_group_name(synthesised.settings.name)})


def test_the_delivery_role_is_for_this_accounts_scheduler_and_may_only_send_to_the_channel_queues_and_dlqs(synthesised):
    template = synthesised.template("processors")
    role_id, role = _delivery_role(template)
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in role["Properties"]
    statements = [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert {a for s in statements for a in listed(s["Action"])} == {"sqs:SendMessage"}
    targets = {without_hash(resource_name(r)) for s in statements for r in listed(s["Resource"])}
    assert targets == {f"{channel.value.capitalize()}{queue}" for channel in CHANNELS for queue in QUEUES}


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_processor_may_arm_wake_ups_and_nothing_more(synthesised, channel):
    env = synthesised.settings.name
    template = synthesised.template("processors")
    _, processor = function(template, f"ai-multi-comms-{channel.value}-processor-{env}")
    grants = granted(template, processor)

    assert grants["scheduler:CreateSchedule"] == {
        f"arn:aws:scheduler:{synthesised.settings.region}:<token>:schedule/{schedule_group_name(env)}/*"
    }
    assert not {a for a in grants if a.startswith("scheduler:") and a != "scheduler:CreateSchedule"}
    role_id, _ = _delivery_role(template)
    assert grants["iam:PassRole"] == {role_id}
    [pass_role] = [
        s
        for policy in resources(template, "AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "PassWakeupRole"
        and {"Ref": processor["Properties"]["Role"]["Fn::GetAtt"][0]} in policy["Properties"]["Roles"]
    ]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    # The delay path: a copy on its own queue, and on no other channel's.
    sent_to = {without_hash(r) for r in grants["sqs:SendMessage"]}
    assert f"{channel.value.capitalize()}Queue" in sent_to
    assert not {f"{o.value.capitalize()}Queue" for o in CHANNELS if o is not channel} & sent_to


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_processor_is_told_its_group_and_the_delivery_role(synthesised, channel):
    env = synthesised.settings.name
    template = synthesised.template("processors")
    _, processor = function(template, f"ai-multi-comms-{channel.value}-processor-{env}")
    variables = processor["Properties"]["Environment"]["Variables"]
    role_id, _ = _delivery_role(template)
    assert variables["SCHEDULER_GROUP_NAME"] == schedule_group_name(env)
    assert variables["SCHEDULER_ROLE_ARN"] == {"Fn::GetAtt": [role_id, "Arn"]}
