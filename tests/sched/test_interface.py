"""Tests of the drop-in API: `mesos.interface` and `mesos.native` look like the official ones."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import mesos.interface
import mesos.native
from mesos.interface import Executor, ExecutorDriver, Scheduler, SchedulerDriver, mesos_pb2
from mesos.native import MesosSchedulerDriver
from mesos.protos.mesos import mesos_pb2 as generated

# The official callbacks and driver methods, with their parameter names.
SCHEDULER = {
    "registered": ["driver", "frameworkId", "masterInfo"],
    "reregistered": ["driver", "masterInfo"],
    "disconnected": ["driver"],
    "resourceOffers": ["driver", "offers"],
    "offerRescinded": ["driver", "offerId"],
    "statusUpdate": ["driver", "status"],
    "frameworkMessage": ["driver", "executorId", "slaveId", "message"],
    "slaveLost": ["driver", "slaveId"],
    "executorLost": ["driver", "executorId", "slaveId", "status"],
    "error": ["driver", "message"],
}
EXECUTOR = {
    "registered": ["driver", "executorInfo", "frameworkInfo", "slaveInfo"],
    "reregistered": ["driver", "slaveInfo"],
    "disconnected": ["driver"],
    "launchTask": ["driver", "task"],
    "killTask": ["driver", "taskId"],
    "frameworkMessage": ["driver", "message"],
    "shutdown": ["driver"],
    "error": ["driver", "message"],
}
SCHEDULER_DRIVER = {
    "start": [], "stop": ["failover"], "abort": [], "join": [], "run": [],
    "requestResources": ["requests"], "launchTasks": ["offerIds", "tasks", "filters"],
    "killTask": ["taskId"], "acceptOffers": ["offerIds", "operations", "filters"],
    "declineOffer": ["offerId", "filters"], "reviveOffers": [], "suppressOffers": [],
    "acknowledgeStatusUpdate": ["status"],
    "sendFrameworkMessage": ["executorId", "slaveId", "data"], "reconcileTasks": ["tasks"],
}
EXECUTOR_DRIVER = {
    "start": [], "stop": [], "abort": [], "join": [], "run": [],
    "sendStatusUpdate": ["status"], "sendFrameworkMessage": ["data"],
}


def _parameters(cls: type, name: str) -> list[str]:
    return list(inspect.signature(getattr(cls, name)).parameters)[1:]


@pytest.mark.parametrize(("cls", "methods"), [
    (Scheduler, SCHEDULER), (Executor, EXECUTOR), (SchedulerDriver, SCHEDULER_DRIVER),
    (ExecutorDriver, EXECUTOR_DRIVER),
])
def test_interface_classes_have_the_official_methods(cls: type,
                                                     methods: dict[str, list[str]]) -> None:
    """This test ensures that the abstract classes have the official method names and
    parameter names, so frameworks that override them (or call them by keyword) work."""
    for name, parameters in methods.items():
        assert _parameters(cls, name) == parameters, name


def test_mesos_pb2_is_the_generated_module() -> None:
    """This test ensures that `mesos.interface.mesos_pb2` is the generated module itself."""
    assert mesos_pb2 is generated
    assert mesos.interface.mesos_pb2 is generated


def test_default_callbacks(capsys: Any) -> None:
    """This test ensures that the default callbacks do nothing, except `error`, which prints
    the message to stderr."""
    scheduler = Scheduler()
    assert scheduler.resourceOffers(None, []) is None
    scheduler.error(None, "boom")
    Executor().error(None, "bang")
    err = capsys.readouterr().err
    assert "Error from Mesos: boom" in err and "Error from Mesos: bang" in err


def test_native_driver_has_the_official_shape() -> None:
    """This test ensures that `mesos.native.MesosSchedulerDriver` is a SchedulerDriver whose
    constructor takes the official positional arguments, and that it offers every driver
    method of the interface (plus the newer ones of the C++ driver)."""
    assert mesos.native.MesosSchedulerDriver is MesosSchedulerDriver
    assert issubclass(MesosSchedulerDriver, SchedulerDriver)
    parameters = list(inspect.signature(MesosSchedulerDriver).parameters)
    assert parameters[:5] == ["scheduler", "framework", "master", "implicitAcknowledgements",
                              "credential"]
    for name in [*SCHEDULER_DRIVER, "updateFramework"]:
        assert callable(getattr(MesosSchedulerDriver, name))
    assert mesos.native.MesosExecutorDriver.__module__ == "mesos.exec.driver"

    framework = mesos_pb2.FrameworkInfo(user="", name="positional")
    credential = mesos_pb2.Credential(principal="p")
    driver = MesosSchedulerDriver(Scheduler(), framework, "127.0.0.1:5050", 1, credential)
    assert driver.join() == mesos_pb2.DRIVER_NOT_STARTED
