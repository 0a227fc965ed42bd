"""The Jupyter kernel manager used to execute the study's notebooks."""

from __future__ import annotations

from jupyter_client.manager import KernelManager


class IPCKernelManager(KernelManager):
    """A kernel manager that talks to its kernel over local IPC sockets instead of TCP.

    The kernel and papermill always run on the same machine here. Over TCP, ipykernel 7 warns
    about unencrypted traffic at every start and logs an ERROR-level KeyboardInterrupt at every
    shutdown, one pair per experiment, which buries real errors in the grid's output.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.transport = "ipc"
