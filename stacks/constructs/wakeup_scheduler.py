"""Where scheduled first messages wait longer than SQS's 15 minutes (issue 12): the environment's
EventBridge Scheduler group and the one role its schedules deliver with, which may only put a
message on a channel queue. The processors create the schedules (shared/processing/wakeups.py)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.consent.wakeup_names import schedule_group_name
from stacks.nag import acknowledge
from stacks.names import scheduler_role_name

SCHEDULER_SERVICE = "scheduler.amazonaws.com"


class WakeupScheduler(Construct):
    group: scheduler.CfnScheduleGroup
    role: iam.Role

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env: str,
        channel_queues: Sequence[sqs.IQueue],
        dead_letter_queues: Sequence[sqs.IQueue],
    ):
        super().__init__(scope, construct_id)
        self.group_name = schedule_group_name(env)
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=self.group_name)
        account = Stack.of(self).account
        # Only this account's schedules may use the role (the confused-deputy guard AWS documents).
        self.role = iam.Role(
            self,
            "DeliveryRole",
            role_name=scheduler_role_name(env),
            description="EventBridge Scheduler delivers a scheduled first message's wake-up to its channel queue",
            assumed_by=iam.ServicePrincipal(
                SCHEDULER_SERVICE, conditions={"StringEquals": {"aws:SourceAccount": account}}
            ),
        )
        # The channel queues, and their DLQs for a wake-up the scheduler gives up delivering.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WakeChannelQueues",
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn for queue in [*channel_queues, *dead_letter_queues]],
            )
        )

    def schedules_arn(self) -> str:
        """Every schedule of the group (their names are per conversation)."""
        stack = Stack.of(self)
        return stack.format_arn(service="scheduler", resource="schedule", resource_name=f"{self.group_name}/*")

    def grant_arm(self, role: iam.IRole, own_queue: sqs.IQueue) -> None:
        """What a processor needs to arm a wake-up: delay a message on its own queue, create a
        schedule in the group, and hand the delivery role to the scheduler (and nothing else)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="DelayWakeups", actions=["sqs:SendMessage"], resources=[own_queue.queue_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ArmWakeups", actions=["scheduler:CreateSchedule"], resources=[self.schedules_arn()]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassWakeupRole",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": SCHEDULER_SERVICE}},
            )
        )
        stack = Stack.of(self)
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        # cdk-nag renders the partition as a token or, when the CLI knows the region, as "aws".
        for partition in ("<AWS::Partition>", "aws"):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::arn:{partition}:scheduler:{region}:<AWS::AccountId>:schedule/"
                f"{self.group_name}/*]",
                "One-time wake-up schedules are named per conversation (schedule_name), so their names "
                "are not known at deploy; CreateSchedule only, in the environment's own group.",
            )
