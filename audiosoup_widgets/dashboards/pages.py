"""The two plain pages the dashboard server shows instead of the dashboard.

- :func:`busy_page`: every visitor slot is taken (``--max-visitors``); sent with
  HTTP 503 and ``Retry-After``.
- :func:`preparing_page`: the server has just started and its first kernel is
  still getting ready; the page says for how long so far and reloads itself.

Both are self-contained HTML (inline style, no script, nothing fetched from
anywhere), readable at any width, and hold no user text.
"""

from __future__ import annotations

from html import escape

__all__ = ["busy_page", "preparing_page"]

_STYLE = """
  body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
         background: #f6f8fa; color: #1f2328;
         font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
  main { box-sizing: border-box; width: min(560px, calc(100vw - 32px)); padding: 28px 32px;
         background: #fff; border: 1px solid #d0d7de; border-radius: 8px; }
  h1 { margin: 0 0 12px; font-size: 22px; font-weight: 600; }
  p { margin: 0 0 12px; color: #424a53; }
  .small { font-size: 14px; color: #57606a; margin: 16px 0 0; }
  a { color: #0969da; }
"""


def _page(*, title: str, body: str, refresh_s: int) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{int(refresh_s)}">
<title>{escape(title)} · Audio Soup</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>{escape(title)}</h1>
{body}
</main>
</body>
</html>
"""


def busy_page(*, visitors: int, retry_after_s: int) -> str:
    """Return the page for a visitor over the cap.

    Parameters
    ----------
    visitors : int
        How many visitors the server serves at once.
    retry_after_s : int
        Seconds until the page reloads itself (also sent as ``Retry-After``).
    """
    if visitors == 1:
        who = "one person at a time, and someone is using it right now"
    else:
        who = f"{visitors:,} people at a time, and all of those places are taken right now"
    return _page(
        title="The dashboard is busy",
        refresh_s=retry_after_s,
        body=f"""
<p>This server shows the dashboard to {escape(who)}.</p>
<p>Please try again in a minute. This page tries again by itself every
{int(retry_after_s)} seconds; you can also <a href="">reload it</a>.</p>
<p class="small">A place becomes free when someone closes their dashboard tab.</p>
""",
    )


def preparing_page(*, elapsed_s: float, refresh_s: int) -> str:
    """Return the page for a visitor who arrives while the server's first kernel is starting.

    Parameters
    ----------
    elapsed_s : float
        Seconds since the server started.
    refresh_s : int
        Seconds between reloads of the page.
    """
    return _page(
        title="Preparing the dashboard",
        refresh_s=refresh_s,
        body=f"""
<p>The server has just started and is getting the dashboard ready: it starts a Python
process, loads the widget and audio libraries and connects to the database.</p>
<p>This has taken {int(elapsed_s)} s so far. It usually takes 5 to 30 seconds (up to
a minute on a slow or busy machine, or on the first start after installing).</p>
<p class="small">This page reloads by itself every {int(refresh_s)} seconds and shows the
dashboard as soon as it is ready.</p>
""",
    )
