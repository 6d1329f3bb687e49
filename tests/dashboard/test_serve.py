"""``audiosoup serve``: the token rule, the Voila command line and its configuration, without a server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dashboard_support import ROOT

from audiosoup_widgets import serve as serve_mod
from audiosoup_widgets.cli import main
from audiosoup_widgets.dashboards.preload import preload_resources, template_root
from audiosoup_widgets.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_token_env(monkeypatch):
    monkeypatch.delenv(serve_mod.ENV_TOKEN, raising=False)
    monkeypatch.delenv(serve_mod.ENV_ALLOW_NO_TOKEN, raising=False)


@pytest.mark.parametrize("host,expected", [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("", False), ("::", False), ("192.168.1.10", False),
    ("example.org", False),
])
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
    cmd = serve_mod.voila_command(port=9999, host="0.0.0.0", token="t0k")
    nb = Path(serve_mod.dashboard_notebook())
    assert nb.is_file() and str(nb) in cmd
    assert f"--Voila.config_file_paths={serve_mod.dashboard_dir()}" in cmd
    assert "--Voila.token=t0k" in cmd and "--Voila.ip=0.0.0.0" in cmd
    assert "--Voila.port=9999" in cmd and "--Voila.open_browser=False" in cmd


def test_voila_configuration_is_locked_down():
    conf = json.loads((Path(serve_mod.dashboard_dir()) / serve_mod.VOILA_CONFIG).read_text())
    vc = conf["VoilaConfiguration"]
    assert vc["preheat_kernel"] is True and vc["default_pool_size"] >= 1
    assert vc["show_tracebacks"] is False and vc["strip_sources"] is True
    assert vc["file_allowlist"] == [] and vc["file_denylist"] == [".*"]
    assert "Traceback" not in conf["VoilaExecutor"]["cell_error_instruction"]
    # The kernel spec manager named there must import.
    module, _, name = vc["kernel_spec_manager_class"].rpartition(".")
    mgr = getattr(__import__(module, fromlist=[name]), name)()
    assert mgr.kernel_dirs == [] and list(mgr.find_kernel_specs()) == ["python3"]


def test_serve_off_loopback_generates_and_passes_a_token(monkeypatch, capsys):
    seen = {}

    def fake_call(cmd, env):
        seen.update(cmd=cmd, env=env)
        return 0

    monkeypatch.setattr(serve_mod.subprocess, "call", fake_call)
    assert serve_mod.serve(db="sqlite:///x.sqlite3", host="0.0.0.0", port=8123,
                           open_browser=False) == 0
    token = next(a.split("=", 1)[1] for a in seen["cmd"] if a.startswith("--Voila.token="))
    assert len(token) >= 24
    assert seen["env"]["AUDIOSOUP_DATABASE_URL"] == "sqlite:///x.sqlite3"
    # A generated token is printed, or nobody could log in.
    assert f"?token={token}" in capsys.readouterr().out


def test_serve_keeps_an_operator_token_out_of_the_log(monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(serve_mod.subprocess, "call", lambda cmd, env: seen.update(cmd=cmd) or 0)
    monkeypatch.setenv(serve_mod.ENV_TOKEN, "operator-secret")
    serve_mod.serve(db="sqlite:///x.sqlite3", host="0.0.0.0", open_browser=False)
    assert "--Voila.token=operator-secret" in seen["cmd"]
    assert "operator-secret" not in capsys.readouterr().out


def test_serve_on_loopback_needs_no_token(monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(serve_mod.subprocess, "call", lambda cmd, env: seen.update(cmd=cmd) or 0)
    serve_mod.serve(db="sqlite:///x.sqlite3", open_browser=False)
    assert "--Voila.token=" in seen["cmd"] and "--Voila.ip=127.0.0.1" in seen["cmd"]
    assert "http://localhost:8866/ " in capsys.readouterr().out


def test_cli_refuses_an_empty_token_off_loopback(monkeypatch, capsys):
    monkeypatch.setattr(serve_mod.subprocess, "call",
                        lambda *a, **k: pytest.fail("voila must not start"))
    code = main(["serve", "--db", "sqlite:///x.sqlite3", "--host", "0.0.0.0", "--token", "",
                 "--no-browser"])
    assert code == 2
    err = capsys.readouterr().err
    assert "token is required" in err and "Traceback" not in err


def test_cli_refuses_a_bad_port(monkeypatch, capsys):
    monkeypatch.setattr(serve_mod.subprocess, "call",
                        lambda *a, **k: pytest.fail("voila must not start"))
    assert main(["serve", "--db", "sqlite:///x.sqlite3", "--port", "70000"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_review_notebook_copy_does_not_drift():
    """The packaged dashboard is the source of truth; notebooks/ holds a byte-identical copy."""
    source = (ROOT / "audiosoup_widgets" / "dashboards" / "review.ipynb").read_bytes()
    copy = (ROOT / "notebooks" / "review_dashboard.ipynb").read_bytes()
    # What `audiosoup serve` runs (the installed copy, when the package is installed).
    assert Path(serve_mod.dashboard_notebook()).read_bytes() == source
    assert copy == source, (
        "notebooks/review_dashboard.ipynb differs from the packaged dashboard; edit "
        "audiosoup_widgets/dashboards/review.ipynb and copy it over the notebooks/ one")


@pytest.mark.parametrize("host,app_ip", [
    ("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("localhost", "127.0.0.1"),
    ("", "127.0.0.1"), ("::", "[::1]"), ("10.1.2.3", "10.1.2.3"), ("fd00::5", "[fd00::5]"),
])
def test_server_env_tells_preheated_kernels_where_the_server_is(host, app_ip):
    env = serve_mod.server_env(db_url="sqlite:///x.sqlite3", host=host, base={"KEEP": "1"})
    assert env == {"KEEP": "1", "AUDIOSOUP_DATABASE_URL": "sqlite:///x.sqlite3",
                   "VOILA_APP_IP": app_ip, "JUPYTER_PATH": template_root()}


def test_server_env_puts_the_page_template_first_on_the_jupyter_path():
    env = serve_mod.server_env(db_url="sqlite:///x.sqlite3", host="127.0.0.1",
                               base={"JUPYTER_PATH": "/opt/jupyter"})
    assert env["JUPYTER_PATH"].split(os.pathsep) == [template_root(), "/opt/jupyter"]
    conf = json.loads((Path(serve_mod.dashboard_dir()) / serve_mod.VOILA_CONFIG).read_text())
    template = Path(template_root()) / "voila" / "templates" / conf["VoilaConfiguration"]["template"]
    assert (template / "index.html.j2").is_file()
    assert json.loads((template / "conf.json").read_text())["base_template"] == "lab"


def test_voila_command_passes_the_preload_list_only_when_asked():
    def resources_arg(cmd):
        [arg] = [a for a in cmd if a.startswith("--VoilaConfiguration.resources=")]
        return arg.split("=", 2)[2].split()

    served = resources_arg(serve_mod.voila_command(port=1, host="127.0.0.1", token=""))
    assert served == [r["path"] for r in preload_resources()] and len(served) > 50
    assert resources_arg(serve_mod.voila_command(port=1, host="127.0.0.1", token="",
                                                 preload=False)) == []


def test_packaged_preload_list_names_installed_files():
    # Recorded with the versions installed here: every entry must still match.
    manifest = json.loads((Path(serve_mod.dashboard_dir()) / "preload.json").read_text())
    kept = [r["path"] for r in preload_resources()]
    assert kept == manifest["resources"]


def test_preload_list_drops_what_is_not_installed_as_recorded(tmp_path):
    real = next(p for p in json.loads((Path(serve_mod.dashboard_dir()) / "preload.json")
                                      .read_text())["resources"]
                if p.startswith("voila/labextensions/"))
    entries = [
        real,
        "voila/labextensions/jupyter-vue/static/520.0000000000000000.js?v=0",  # other build
        "voila/static/voila.js",                        # recorded under another Voila
        "voila/labextensions/../../../etc/passwd.js",   # never outside the folders
        "voila/labextensions/jupyter-vue/package.json",  # not a script
        "elsewhere/app.js",
    ]
    manifest = tmp_path / "preload.json"
    manifest.write_text(json.dumps({"voila": "0.0.1", "resources": entries}))
    assert preload_resources(str(manifest)) == [{"path": real, "as": "script"}]
    assert preload_resources(str(tmp_path / "missing.json")) == []
    (tmp_path / "bad.json").write_text("{not json")
    assert preload_resources(str(tmp_path / "bad.json")) == []
