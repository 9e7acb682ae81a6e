"""Stopping the local stack stops every part, even when one of them fails to stop."""

from local.stack import LocalStack


class Part:
    def __init__(self, name: str, stopped: list[str], *, fails: bool = False):
        self.name, self.stopped, self.fails = name, stopped, fails

    def stop(self) -> None:
        self.stopped.append(self.name)
        if self.fails:
            raise RuntimeError(f"{self.name} would not stop")


def test_a_part_that_fails_to_stop_does_not_leave_the_others_running():
    stopped: list[str] = []
    stack = LocalStack()
    stack._functions = {"router": Part("router", stopped, fails=True), "sms": Part("sms", stopped)}
    stack._sandboxes = Part("sandboxes", stopped)
    stack._moto = Part("aws", stopped)

    stack.stop()

    assert stopped == ["router", "sms", "sandboxes", "aws"]
