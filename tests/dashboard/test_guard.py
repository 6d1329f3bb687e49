"""The host policy of the dashboard server, without a server (the live checks are in
``test_dashboard_guards.py``)."""

from __future__ import annotations

import socket

import pytest

from audiosoup_widgets.dashboards.guard import HostPolicy, check_host_name, hosts_from_env
from audiosoup_widgets.dashboards.server import VisitorGate


@pytest.fixture
def loopback() -> HostPolicy:
    return HostPolicy.for_server(bound="127.0.0.1", extra=["Dash.Example.org"])


@pytest.mark.parametrize(
    "host_header",
    [
        "127.0.0.1:8866",
        "localhost:8866",
        "LOCALHOST",
        "[::1]:8866",
        "127.0.0.2:1",
        "dash.example.org",
        "dash.example.org.:443",
        "DASH.example.ORG:8866",
    ],
)
def test_loopback_and_configured_names_are_answered(loopback, host_header):
    assert loopback.refusal(host_header=host_header, origin=None, path="/") is None


@pytest.mark.parametrize(
    "host_header",
    [
        "evil.example:8866",
        "evil.example",
        "localhost.evil.example",
        "127.0.0.1.evil.example",
        "dash.example.org.evil.example",
        "10.0.0.5:8866",
        "",
        "::1",
        "127.0.0.1:x",
        "[::1",
    ],
)
def test_other_names_are_refused(loopback, host_header):
    status, text = loopback.refusal(host_header=host_header, origin=None, path="/")
    assert status == 403 and "--allow-host" in text


@pytest.mark.parametrize(
    "host_header,origin,allowed",
    [
        ("127.0.0.1:8866", "http://127.0.0.1:8866", True),
        ("[::1]:8866", "http://[::1]:8866", True),
        ("dash.example.org", "https://dash.example.org", True),  # behind a proxy on 443
        ("dash.example.org:8866", "http://dash.example.org:8866", True),
        # Another program on another port of this machine is another site.
        ("127.0.0.1:8866", "http://localhost:9999", False),
        ("127.0.0.1:8866", "http://127.0.0.1:9999", False),
        ("127.0.0.1:8866", "http://localhost:8866", False),
        ("127.0.0.1:8866", "http://evil.example:8866", False),
        ("127.0.0.1:8866", "null", False),
        ("127.0.0.1:8866", "file://", False),
        ("127.0.0.1:8866", "http://127.0.0.1.evil.example", False),
        ("127.0.0.1:8866", "javascript:alert(1)", False),
        ("127.0.0.1:8866", "http://[bad", False),
    ],
)
def test_origins(loopback, host_header, origin, allowed):
    refusal = loopback.refusal(host_header=host_header, origin=origin, path="/")
    assert (refusal is None) is allowed


@pytest.mark.parametrize(
    "path",
    [
        "/voila/static/..%2f..%2fetc%2fpasswd",
        "/a/../b",
        "/voila/templates/lab/static/%2E%2E/x",
        "/x/..%5c..%5cy",
    ],
)
def test_dot_dot_paths_are_a_plain_404(loopback, path):
    assert loopback.refusal(host_header="localhost", origin=None, path=path)[0] == 404


def test_a_server_answers_to_its_own_address_and_wildcards_to_the_machine_name():
    assert HostPolicy.for_server(bound="10.1.2.3").allows("10.1.2.3")
    assert not HostPolicy.for_server(bound="10.1.2.3").allows("10.1.2.4")
    assert HostPolicy.for_server(bound="fd00::5").allows("[fd00:0::5]")
    everywhere = HostPolicy.for_server(bound="0.0.0.0")
    assert everywhere.allows(socket.gethostname()) and not everywhere.allows("0.0.0.0")


@pytest.mark.parametrize("bad", ["*", "https://x.org", "x.org:443", "a b", "", "-x.org", "x/y"])
def test_bad_names_are_refused_with_a_reason(bad):
    with pytest.raises(ValueError, match="not a host name"):
        check_host_name(bad)


def test_names_from_the_environment():
    assert hosts_from_env({"AUDIOSOUP_ALLOWED_HOSTS": " a.org, b.org  c.org,"}) == ["a.org", "b.org", "c.org"]
    assert hosts_from_env({}) == []


def test_visitor_gate_counts_tickets_until_their_kernel_ends():
    alive = {"k1"}
    gate = VisitorGate(2, alive=lambda k: k in alive)
    first, second = gate.admit(), gate.admit()
    assert first and second and gate.admit() is None  # two pages being prepared
    gate.bind(first, "k1")
    gate.settle(first)  # its page is served; the kernel keeps the place
    gate.settle(second)  # this one failed before getting a kernel: its place is free
    assert gate.in_use() == 1
    third = gate.admit()
    assert third and gate.admit() is None
    alive.clear()  # k1 ended
    assert gate.in_use() == 1 and gate.admit() is not None
