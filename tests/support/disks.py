"""Small real filesystems for the buffer, as a board's SD card: a tmpfs or an ext4 image
on a loop device, mounted by the test (root only: the fixtures skip without it, saying
why), filled to a chosen free space, and cut as a power cut cuts them (the ext4 shutdown
ioctl drops whatever was not yet synced and fails every later I/O with EIO)."""

import errno
import fcntl
import os
import struct
import subprocess

import pytest

# EXT4_IOC_SHUTDOWN = _IOR('X', 125, __u32); EXT4_GOING_FLAGS_NOLOGFLUSH: the journal is
# not flushed, so the filesystem is left as a power cut leaves it.
EXT4_IOC_SHUTDOWN = 0x8004587D
EXT4_GOING_FLAGS_NOLOGFLUSH = 2


def _run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def need_root(what):
    if os.geteuid() != 0:
        pytest.skip("%s needs root (mount)" % what)


class Ext4Image:
    """An ext4 filesystem in a file, mounted on `mnt` through a loop device."""

    def __init__(self, tmp_path, size_mb):
        need_root("an ext4 image")
        self.image = tmp_path / "card.img"
        self.images = [self.image]
        self.generation = 0
        self.mnt = tmp_path / "card"
        self.mnt.mkdir()
        with open(self.image, "wb") as f:
            f.truncate(size_mb << 20)
        # No blocks reserved for root: the gateway's free-space figures are what a full
        # card really has.
        r = _run(["mkfs.ext4", "-q", "-m", "0", "-F", str(self.image)])
        if r.returncode != 0:
            pytest.skip("cannot make an ext4 image: " + r.stdout.strip())
        self.mount()

    def mount(self):
        r = _run(["mount", "-o", "loop", str(self.image), str(self.mnt)])
        if r.returncode != 0:
            pytest.skip("cannot mount an ext4 image on a loop device: " + r.stdout.strip())
        # The new mount must take a synced write (not the shut-down filesystem again).
        with open(os.path.join(str(self.mnt), ".mounted"), "wb") as f:
            f.write(b"1")
            os.fsync(f.fileno())

    def umount(self):
        r = _run(["umount", str(self.mnt)])
        assert r.returncode == 0, r.stdout

    def replug(self):
        """After a power cut: unmounted, and the card's contents mounted again. The
        contents are copied to a new image first: the old image's loop device is
        released asynchronously (seconds, on a busy machine), and a mount of the same
        image meanwhile can be handed the shut-down filesystem again."""
        self.umount()
        self.generation += 1
        fresh = self.image.with_name("card-%d.img" % self.generation)
        r = _run(["cp", "--sparse=always", str(self.image), str(fresh)])
        assert r.returncode == 0, r.stdout
        self.images.append(fresh)
        self.image = fresh
        self.mount()

    def power_cut(self):
        """What was not synced is gone; every later I/O on the mount fails with EIO."""
        fd = os.open(str(self.mnt), os.O_RDONLY)
        try:
            fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
        finally:
            os.close(fd)

    def close(self):
        _run(["umount", "-l", str(self.mnt)])
        for image in self.images:
            for line in _run(["losetup", "-j", str(image)]).stdout.splitlines():
                _run(["losetup", "-d", line.split(":")[0]])


def mount_tmpfs(path, size_mb, read_only=False):
    need_root("a tmpfs")
    path.mkdir(exist_ok=True)
    opts = "size=%dm" % size_mb + (",ro" if read_only else "")
    r = _run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)])
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs: " + r.stdout.strip())
    return path


def umount(path):
    _run(["umount", "-l", str(path)])


def free_bytes(path):
    st = os.statvfs(str(path))
    return st.f_bavail * st.f_frsize


def fill(path, leave_bytes):
    """Writes path/filler until at most `leave_bytes` are free (0: until the
    filesystem refuses another byte); returns the free bytes left."""
    filler = os.path.join(str(path), "filler")
    chunk = 1 << 20
    with open(filler, "ab", buffering=0) as f:
        while True:
            free = free_bytes(path)
            if free <= leave_bytes:
                break
            n = min(chunk, free - leave_bytes) if leave_bytes else chunk
            try:
                f.write(b"\0" * max(n, 1))
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if chunk == 1:
                    break
                chunk = max(1, chunk // 16)
        os.fsync(f.fileno())
    return free_bytes(path)
