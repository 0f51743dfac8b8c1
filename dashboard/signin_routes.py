"""The app's two addresses for the sign-in cookie (usecases.signins), served beside Streamlit by
`st.App` (dashboard/app.py): Streamlit sets no cookie of its own for a password sign-in, and a
cookie that page scripts cannot read (HttpOnly) can only come from the server's answer.

- POST /_acne/signin with the one-time code in the body: the answer sets the cookie
  (HttpOnly, SameSite=Strict, Path=/, Secure behind https), or 403 for a code that is unknown,
  used or older than a minute.
- POST /_acne/signout: ends the cookie's sign-in and deletes the cookie.
The cookie has no expiry date (it ends with the browser); the server ends the sign-in itself.
"""
from __future__ import annotations

import functools

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from usecases import signins
from usecases.clinic import Clinic, open_clinic
from usecases.settings import Settings, load_settings

MAX_CODE_BYTES = 200


@functools.lru_cache(maxsize=1)
def _clinic_and_settings() -> tuple[Clinic, Settings]:
    settings = load_settings()
    return open_clinic(settings, check=False), settings


def _secure(request: Request) -> bool:
    return (request.url.scheme == "https"
            or request.headers.get("x-forwarded-proto", "").lower() == "https")


async def redeem(request: Request) -> Response:
    code = (await request.body())[:MAX_CODE_BYTES].decode("ascii", errors="replace").strip()
    clinic, settings = _clinic_and_settings()
    token = await run_in_threadpool(signins.cookie_token, clinic, code, settings.session_minutes)
    if token is None:
        return Response(status_code=403)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.set_cookie(signins.COOKIE_NAME, token, httponly=True, samesite="strict", path="/",
                        secure=_secure(request))
    return response


async def forget(request: Request) -> Response:
    token = request.cookies.get(signins.COOKIE_NAME)
    if token:
        clinic, _ = _clinic_and_settings()
        await run_in_threadpool(signins.end_by_cookie, clinic, token)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.delete_cookie(signins.COOKIE_NAME, path="/", httponly=True, samesite="strict",
                           secure=_secure(request))
    return response


ROUTES = [
    Route(signins.SIGNIN_PATH, redeem, methods=["POST"]),
    Route(signins.SIGNOUT_PATH, forget, methods=["POST"]),
]
