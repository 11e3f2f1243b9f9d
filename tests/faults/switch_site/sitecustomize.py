"""Loaded by every Python process of a storage fault test's router (this folder is on its
PYTHONPATH): installs the storage switch when the test named a flag file."""

import os

if os.environ.get("BURNCLOUD_TEST_READ_ONLY_FLAG"):
    from tests.faults.storage_switch import install

    install(os.environ["BURNCLOUD_TEST_READ_ONLY_FLAG"])
