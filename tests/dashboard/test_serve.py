"""``audiosoup serve``: the token rule, the Voila command line and its configuration, without a server."""

from __future__ import annotations

import json
import os
import urllib.parse
from pathlib import Path

import pytest
from dashboard_support import ROOT

from audiosoup_widgets.cli import main
from audiosoup_widgets.dashboards import serve as serve_mod
from audiosoup_widgets.dashboards.preload import preload_resources, template_root
from audiosoup_widgets.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_token_env(monkeypatch):
    monkeypatch.delenv(serve_mod.ENV_TOKEN, raising=False)
    monkeypatch.delenv(serve_mod.ENV_ALLOW_NO_TOKEN, raising=False)


@pytest.mark.parametrize(
    "host,expected",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host, expected):
    assert serve_mod.is_loopback(host) is expected


def test_token_rule():
    assert serve_mod.resolve_token(host="127.0.0.1") == ""
    generated = serve_mod.resolve_token(host="0.0.0.0")
    assert len(generated) >= 24
    assert serve_mod.resolve_token(host="0.0.0.0") != generated
    assert serve_mod.resolve_token(host="0.0.0.0", token="given") == "given"
    with pytest.raises(ConfigError, match="token is required"):
        serve_mod.resolve_token(host="0.0.0.0", token="")
    with pytest.raises(ConfigError):
        serve_mod.resolve_token(host="10.1.2.3", token="   ")


def test_token_from_environment(monkeypatch):
    monkeypatch.setenv(serve_mod.ENV_TOKEN, "from-env")
    assert serve_mod.resolve_token(host="0.0.0.0") == "from-env"
    assert serve_mod.resolve_token(host="127.0.0.1") == "from-env"
    monkeypatch.setenv(serve_mod.ENV_TOKEN, "")
    with pytest.raises(ConfigError):
        serve_mod.resolve_token(host="0.0.0.0")
    monkeypatch.setenv(serve_mod.ENV_ALLOW_NO_TOKEN, "1")
    assert serve_mod.resolve_token(host="0.0.0.0") == ""


def test_voila_command_uses_only_the_packaged_configuration():
    cmd = serve_mod.voila_command(
        port=9999, host="0.0.0.0", max_visitors=3, allowed_hosts=["dash.example.org", "10.0.0.5"]
    )
    nb = Path(serve_mod.dashboard_notebook())
    assert nb.is_file() and str(nb) in cmd
    assert cmd[1:3] == ["-m", "audiosoup_widgets.dashboards.server"]
    assert f"--Voila.config_file_paths={serve_mod.dashboard_dir()}" in cmd
    assert "--Voila.ip=0.0.0.0" in cmd
    assert "--Voila.port=9999" in cmd and "--Voila.open_browser=False" in cmd
    assert "--DashboardServer.max_visitors=3" in cmd
    assert "--DashboardServer.allowed_hosts=dash.example.org" in cmd
    assert "--DashboardServer.allowed_hosts=10.0.0.5" in cmd


def test_the_token_travels_in_the_environment_not_the_command_line():
    cmd = serve_mod.voila_command(port=9999, host="0.0.0.0")
    assert not any("token" in a.lower() for a in cmd)
    env = serve_mod.server_env(
        db_url="sqlite:///x.sqlite3", host="0.0.0.0", token="t0k", base={"AUDIOSOUP_TOKEN": "from-the-shell"}
    )
    assert env["AUDIOSOUP_TOKEN"] == "t0k"
    assert (
        serve_mod.server_env(db_url="sqlite:///x.sqlite3", host="127.0.0.1", base={"AUDIOSOUP_TOKEN": "x"})[
            "AUDIOSOUP_TOKEN"
        ]
        == ""
    )


def test_voila_configuration_is_locked_down():
    conf = json.loads((Path(serve_mod.dashboard_dir()) / serve_mod.VOILA_CONFIG).read_text())
    vc = conf["VoilaConfiguration"]
    assert vc["preheat_kernel"] is True and vc["default_pool_size"] >= 1
    assert vc["show_tracebacks"] is False and vc["strip_sources"] is True
    assert vc["file_allowlist"] == [] and vc["file_denylist"] == [".*"]
    assert "Traceback" not in conf["VoilaExecutor"]["cell_error_instruction"]
    # After a cell's reply, Voila waits this long for its outputs and then renders the
    # page without them: with nbclient's 4 s, a busy machine (several kernels starting)
    # served blank pages ("Timeout waiting for IOPub output"; bench_visitors.py, 8 visitors).
    assert conf["VoilaExecutor"]["iopub_timeout"] >= 60
    # The kernel spec manager named there must import.
    module, _, name = vc["kernel_spec_manager_class"].rpartition(".")
    mgr = getattr(__import__(module, fromlist=[name]), name)()
    assert mgr.kernel_dirs == [] and list(mgr.find_kernel_specs()) == ["python3"]


def test_production_settings_end_an_unused_kernel_within_a_minute():
    """The kernel lifetime rules as shipped (the browser tests run them with shorter times)."""
    from traitlets.config import Config

    from audiosoup_widgets.dashboards.kernels import DashboardKernelManager

    conf = json.loads((Path(serve_mod.dashboard_dir()) / serve_mod.VOILA_CONFIG).read_text())
    vc = conf["VoilaConfiguration"]
    assert vc["multi_kernel_manager_class"].endswith(".DashboardKernelManager")
    # Voila builds the manager with the whole configuration; read what it would get.
    mgr = DashboardKernelManager(config=Config(conf))
    assert mgr.cull_idle_timeout > 0, "the periodic check would not run"
    assert mgr.cull_connected is False, "an open page must keep its kernel"
    worst = max(mgr.unconnected_grace, mgr.disconnected_grace) + mgr.cull_interval
    assert worst <= 60, worst
    # The class defaults say the same when the file is silent.
    bare = DashboardKernelManager()
    assert max(bare.unconnected_grace, bare.disconnected_grace) + bare.cull_interval <= 60


@pytest.mark.parametrize("available_gb,expected", [(0.2, 1), (0.9, 1), (1.4, 2), (4, 8), (16, 35), (64, 144)])
def test_default_visitor_cap_follows_memory(available_gb, expected):
    from audiosoup_widgets.dashboards.server import default_max_visitors

    assert default_max_visitors(int(available_gb * 2**30)) == expected
    assert default_max_visitors() >= 1


def _fake_run(seen: dict):
    def run_server(cmd, *, env, ready_url, browser_url):
        seen.update(cmd=cmd, env=env, ready_url=ready_url, browser_url=browser_url)
        return 0

    return run_server


def test_serve_off_loopback_generates_and_passes_a_token(monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(serve_mod, "run_server", _fake_run(seen))
    assert serve_mod.serve(db="sqlite:///x.sqlite3", host="0.0.0.0", port=8123, open_browser=False) == 0
    token = seen["env"]["AUDIOSOUP_TOKEN"]
    assert len(token) >= 24 and not any(token in a for a in seen["cmd"])
    assert seen["env"]["AUDIOSOUP_DATABASE_URL"] == "sqlite:///x.sqlite3"
    assert seen["ready_url"] == "http://127.0.0.1:8123/audiosoup/ready"
    assert seen["browser_url"] is None
    # A generated token is printed, or nobody could log in.
    assert f"?token={token}" in capsys.readouterr().out


def test_serve_keeps_an_operator_token_out_of_the_log(monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(serve_mod, "run_server", _fake_run(seen))
    monkeypatch.setenv(serve_mod.ENV_TOKEN, "operator-secret")
    serve_mod.serve(db="sqlite:///x.sqlite3", host="0.0.0.0", open_browser=False)
    assert seen["env"]["AUDIOSOUP_TOKEN"] == "operator-secret"
    assert not any("operator-secret" in a for a in seen["cmd"])
    assert "operator-secret" not in capsys.readouterr().out


def test_serve_hands_the_browser_a_private_file_not_the_token(monkeypatch, capsys):
    seen = {}

    def run_server(cmd, *, env, ready_url, browser_url):
        # While the server runs, the file the browser opens exists, for its owner only.
        path = Path(urllib.parse.unquote(urllib.parse.urlsplit(browser_url).path))
        seen.update(mode=path.stat().st_mode & 0o777, text=path.read_text(), path=path)
        return 0

    monkeypatch.setattr(serve_mod, "run_server", run_server)
    serve_mod.serve(db="sqlite:///x.sqlite3", token="s3cret", port=8124)
    assert seen["mode"] == 0o600
    assert "http://localhost:8124/?token=s3cret" in seen["text"]
    assert not seen["path"].exists(), "the file is removed when the server stops"


def test_serve_on_loopback_needs_no_token(monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(serve_mod, "run_server", _fake_run(seen))
    serve_mod.serve(db="sqlite:///x.sqlite3")
    assert seen["env"]["AUDIOSOUP_TOKEN"] == "" and "--Voila.ip=127.0.0.1" in seen["cmd"]
    # Without a token the browser gets the address itself.
    assert seen["browser_url"] == "http://localhost:8866/"
    assert "http://localhost:8866/ " in capsys.readouterr().out


def test_cli_passes_the_visitor_cap_and_allowed_hosts(monkeypatch):
    seen = {}
    monkeypatch.setattr(serve_mod, "run_server", _fake_run(seen))
    assert (
        main(
            [
                "serve",
                "--db",
                "sqlite:///x.sqlite3",
                "--no-browser",
                "--max-visitors",
                "4",
                "--allow-host",
                "Dash.Example.org",
                "--allow-host",
                "[fd00::5]",
            ]
        )
        == 0
    )
    assert "--DashboardServer.max_visitors=4" in seen["cmd"]
    assert "--DashboardServer.allowed_hosts=dash.example.org" in seen["cmd"]
    assert "--DashboardServer.allowed_hosts=fd00::5" in seen["cmd"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--max-visitors", "0"], "--max-visitors must be at least 1"),
        (["--allow-host", "https://dash.example.org"], "is not a host name"),
        (["--allow-host", "dash.example.org:443"], "is not a host name"),
        (["--allow-host", "*"], "is not a host name"),
    ],
)
def test_cli_refuses_bad_serve_options_in_one_line(monkeypatch, capsys, args, message):
    monkeypatch.setattr(serve_mod, "run_server", lambda *a, **k: pytest.fail("must not start"))
    assert main(["serve", "--db", "sqlite:///x.sqlite3", "--no-browser", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_refuses_an_empty_token_off_loopback(monkeypatch, capsys):
    monkeypatch.setattr(serve_mod, "run_server", lambda *a, **k: pytest.fail("voila must not start"))
    code = main(["serve", "--db", "sqlite:///x.sqlite3", "--host", "0.0.0.0", "--token", "", "--no-browser"])
    assert code == 2
    err = capsys.readouterr().err
    assert "token is required" in err and "Traceback" not in err


def test_cli_refuses_a_bad_port(monkeypatch, capsys):
    monkeypatch.setattr(serve_mod, "run_server", lambda *a, **k: pytest.fail("voila must not start"))
    assert main(["serve", "--db", "sqlite:///x.sqlite3", "--port", "70000"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_cli_refuses_a_port_in_use_in_one_line(monkeypatch, capsys):
    import socket

    monkeypatch.setattr(serve_mod, "run_server", lambda *a, **k: pytest.fail("voila must not start"))
    with socket.socket() as other:  # another program listening on the port
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        assert main(["serve", "--db", "sqlite:///x.sqlite3", "--no-browser", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"port {port} is already in use" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_review_notebook_copy_does_not_drift():
    """The packaged dashboard is the source of truth; notebooks/ holds a byte-identical copy."""
    source = (ROOT / "audiosoup_widgets" / "dashboards" / "review.ipynb").read_bytes()
    copy = (ROOT / "notebooks" / "review_dashboard.ipynb").read_bytes()
    # What `audiosoup serve` runs (the installed copy, when the package is installed).
    assert Path(serve_mod.dashboard_notebook()).read_bytes() == source
    assert copy == source, (
        "notebooks/review_dashboard.ipynb differs from the packaged dashboard; edit "
        "audiosoup_widgets/dashboards/review.ipynb and copy it over the notebooks/ one"
    )


@pytest.mark.parametrize(
    "host,app_ip",
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0.0.0.0", "127.0.0.1"),
        ("localhost", "127.0.0.1"),
        ("", "127.0.0.1"),
        ("::", "[::1]"),
        ("10.1.2.3", "10.1.2.3"),
        ("fd00::5", "[fd00::5]"),
    ],
)
def test_server_env_tells_preheated_kernels_where_the_server_is(host, app_ip):
    env = serve_mod.server_env(db_url="sqlite:///x.sqlite3", host=host, base={"KEEP": "1"})
    assert env == {
        "KEEP": "1",
        "AUDIOSOUP_DATABASE_URL": "sqlite:///x.sqlite3",
        "AUDIOSOUP_TOKEN": "",
        "VOILA_APP_IP": app_ip,
        "JUPYTER_PATH": template_root(),
    }


def test_server_env_puts_the_page_template_first_on_the_jupyter_path():
    env = serve_mod.server_env(
        db_url="sqlite:///x.sqlite3", host="127.0.0.1", base={"JUPYTER_PATH": "/opt/jupyter"}
    )
    assert env["JUPYTER_PATH"].split(os.pathsep) == [template_root(), "/opt/jupyter"]
    conf = json.loads((Path(serve_mod.dashboard_dir()) / serve_mod.VOILA_CONFIG).read_text())
    template = Path(template_root()) / "voila" / "templates" / conf["VoilaConfiguration"]["template"]
    assert (template / "index.html.j2").is_file()
    assert json.loads((template / "conf.json").read_text())["base_template"] == "lab"


def test_voila_command_passes_the_preload_list_only_when_asked():
    def resources_arg(cmd):
        [arg] = [a for a in cmd if a.startswith("--VoilaConfiguration.resources=")]
        return arg.split("=", 2)[2].split()

    served = resources_arg(serve_mod.voila_command(port=1, host="127.0.0.1"))
    assert served == [r["path"] for r in preload_resources()] and len(served) > 50
    assert resources_arg(serve_mod.voila_command(port=1, host="127.0.0.1", preload=False)) == []


def test_packaged_preload_list_names_installed_files():
    # Recorded with the versions installed here: every entry must still match.
    manifest = json.loads((Path(serve_mod.dashboard_dir()) / "preload.json").read_text())
    kept = [r["path"] for r in preload_resources()]
    assert kept == manifest["resources"]


def test_preload_list_drops_what_is_not_installed_as_recorded(tmp_path):
    real = next(
        p
        for p in json.loads((Path(serve_mod.dashboard_dir()) / "preload.json").read_text())["resources"]
        if p.startswith("voila/labextensions/")
    )
    entries = [
        real,
        "voila/labextensions/jupyter-vue/static/520.0000000000000000.js?v=0",  # other build
        "voila/static/voila.js",  # recorded under another Voila
        "voila/labextensions/../../../etc/passwd.js",  # never outside the folders
        "voila/labextensions/jupyter-vue/package.json",  # not a script
        "elsewhere/app.js",
    ]
    manifest = tmp_path / "preload.json"
    manifest.write_text(json.dumps({"voila": "0.0.1", "resources": entries}))
    assert preload_resources(str(manifest)) == [{"path": real, "as": "script"}]
    assert preload_resources(str(tmp_path / "missing.json")) == []
    (tmp_path / "bad.json").write_text("{not json")
    assert preload_resources(str(tmp_path / "bad.json")) == []


def test_a_trusted_user_header_reaches_voila_and_the_kernels():
    cmd = serve_mod.voila_command(port=9999, host="127.0.0.1", trusted_user_header="X-Forwarded-User")
    assert "--VoilaConfiguration.http_header_envs=['X-Forwarded-User']" in cmd
    assert not any("http_header_envs" in a for a in serve_mod.voila_command(port=9999, host="127.0.0.1"))
    env = serve_mod.server_env(
        db_url="sqlite:///x.sqlite3", host="127.0.0.1", base={}, trusted_user_header="X-Forwarded-User"
    )
    assert env["AUDIOSOUP_TRUSTED_USER_HEADER"] == "X-Forwarded-User"
    # "" removes a value inherited from the shell; None keeps it.
    shell = {"AUDIOSOUP_TRUSTED_USER_HEADER": "X-Old"}
    assert "AUDIOSOUP_TRUSTED_USER_HEADER" not in serve_mod.server_env(
        db_url="sqlite:///x.sqlite3", host="127.0.0.1", base=shell, trusted_user_header=""
    )
    assert (
        serve_mod.server_env(db_url="sqlite:///x.sqlite3", host="127.0.0.1", base=shell)[
            "AUDIOSOUP_TRUSTED_USER_HEADER"
        ]
        == "X-Old"
    )
    with pytest.raises(ConfigError, match="not an HTTP header name"):
        serve_mod.voila_command(port=9999, host="127.0.0.1", trusted_user_header="X-User: admin")


def test_serve_refuses_a_malformed_trusted_header_in_one_line(capsys):
    assert main(["serve", "--no-browser", "--port", "1", "--trusted-user-header", "bad header"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not an HTTP header name" in err
