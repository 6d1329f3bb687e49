"""Who is reviewing: JupyterHub's user or a trusted proxy's header, never typed over."""

from __future__ import annotations

import pytest

from audiosoup_widgets.config import Identity, header_env_name, reviewer_identity
from audiosoup_widgets.errors import ConfigError, ValidationError
from audiosoup_widgets.state import ReviewState


def test_jupyterhub_user_comes_first():
    env = {
        "JUPYTERHUB_USER": "grace",
        "AUDIOSOUP_TRUSTED_USER_HEADER": "X-Forwarded-User",
        "HTTP_X_FORWARDED_USER": "ada",
    }
    assert reviewer_identity(env) == Identity("grace", "JupyterHub")


def test_a_declared_header_names_the_reviewer_and_an_undeclared_one_does_not():
    env = {"AUDIOSOUP_TRUSTED_USER_HEADER": "X-Forwarded-User", "HTTP_X_FORWARDED_USER": " ada "}
    assert reviewer_identity(env) == Identity("ada", "the proxy header X-Forwarded-User")
    # The same header without the operator's declaration is just a header a browser could send.
    assert reviewer_identity({"HTTP_X_FORWARDED_USER": "ada"}) is None
    # Declared but absent or blank: nobody is named, the visitor types a name.
    assert reviewer_identity({"AUDIOSOUP_TRUSTED_USER_HEADER": "X-Forwarded-User"}) is None
    blank = {"AUDIOSOUP_TRUSTED_USER_HEADER": "X-Forwarded-User", "HTTP_X_FORWARDED_USER": "  "}
    assert reviewer_identity(blank) is None


def test_names_are_cleaned_and_cut():
    env = {"JUPYTERHUB_USER": "eve\x1b[31m\n" + "x" * 200}
    found = reviewer_identity(env)
    assert found is not None
    assert "\x1b" not in found.name and "\n" not in found.name and len(found.name) == 100


def test_header_names_become_cgi_variables():
    assert header_env_name("X-Forwarded-User") == "HTTP_X_FORWARDED_USER"
    for bad in ("", "X User", "X-User:", "a" * 65):
        with pytest.raises(ConfigError):
            header_env_name(bad)


def test_a_signed_in_reviewer_cannot_be_typed_over():
    state = ReviewState()
    state.sign_in("grace", source="JupyterHub")
    assert (state.reviewer, state.reviewer_source) == ("grace", "JupyterHub")
    assert state.sign("grace") == "grace"  # the same name is fine
    with pytest.raises(ValidationError, match="signed in as grace through JupyterHub"):
        state.sign("mallory")
    assert state.reviewer == "grace"


def test_without_a_server_identity_the_typed_name_is_used():
    state = ReviewState()
    assert state.sign("  Lin  ") == "Lin"
    assert state.sign("Kim") == "Kim" and state.reviewer_source == ""
