"""Remote boards over SSH: the device list, the transport, and latency timed on a device."""

from edgeopt.devices.registry import Device, Registry, make_device
from edgeopt.devices.remote import RemoteTimer
from edgeopt.devices.ssh import DeviceError

__all__ = ["Device", "DeviceError", "Registry", "RemoteTimer", "make_device"]
