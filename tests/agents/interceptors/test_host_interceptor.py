"""Issue 23 item 3: the host interceptor's header is what a JVM here says this host is."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agents.interceptors.builtin import local_host

JAVA = """
import java.net.InetAddress;
public class Host {
  public static void main(String[] a) throws Exception {
    InetAddress x = InetAddress.getLocalHost();
    System.out.println(x.getHostAddress() + " " + x.getCanonicalHostName());
  }
}
"""


@pytest.mark.skipif(shutil.which("java") is None, reason="needs a JDK (java) on PATH")
def test_host_header_is_javas_local_host(tmp_path: Path) -> None:
    (tmp_path / "Host.java").write_text(JAVA)
    said = subprocess.run(["java", str(tmp_path / "Host.java")], capture_output=True, text=True,
                          timeout=60, check=True).stdout.split()  # fmt: skip
    assert [local_host(use_ip=True), local_host(use_ip=False)] == said
