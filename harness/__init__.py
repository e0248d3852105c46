"""ringzero's harness: builds unikernel images, boots them under libvirt/KVM
(or plain QEMU), captures their consoles, and runs the conformance suites."""

__version__ = "0.1.0"
