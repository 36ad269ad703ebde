#!/usr/bin/env python3
"""Interoperability test: an independent OCPP 1.6J charge point (the PyPI `ocpp`
package over `websockets`) against a running csms server.

Environment:
  CSMS_HTTP            e.g. http://127.0.0.1:3300
  CSMS_OCPP            e.g. ws://127.0.0.1:9300/ocpp
  CSMS_ADMIN_EMAIL     operator e-mail
  CSMS_ADMIN_PASSWORD  operator password
  INTEROP_TIMEOUT      overall time limit in seconds (default 60)
  CSMS_WSS             e.g. wss://localhost:9443/ocpp: also run the TLS checks (security
                       profiles 2 and 3, Python `ssl` as the second TLS implementation)
  INTEROP_PKI          directory made by pki.py (the CA csms trusts and its server certificate)

Prints one PASS/FAIL line per check and closes with `N passed, M failed`.
Exit status: 0 when every check passed, 1 otherwise, 2 on a crash or timeout.
"""

import asyncio
import base64
import inspect
import json
import logging
import os
import secrets
import signal
import sys
import traceback
import urllib.error
import urllib.request
import warnings
from datetime import datetime, timezone

import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as BaseChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

try:  # websockets >= 14: the new asyncio implementation
    from websockets.asyncio.client import connect as ws_connect
except ImportError:  # websockets 13 and older
    from websockets.client import connect as ws_connect  # type: ignore

HTTP = os.environ.get("CSMS_HTTP", "http://127.0.0.1:3000").rstrip("/")
OCPP = os.environ.get("CSMS_OCPP", "ws://127.0.0.1:9000/ocpp").rstrip("/")
ADMIN_EMAIL = os.environ.get("CSMS_ADMIN_EMAIL", "admin@example.com")
ADMIN_PASSWORD = os.environ.get("CSMS_ADMIN_PASSWORD", "admin-password")
TIMEOUT = float(os.environ.get("INTEROP_TIMEOUT", "60"))
WSS = os.environ.get("CSMS_WSS", "").rstrip("/")
PKI = os.environ.get("INTEROP_PKI", "")

VENDOR = "PyOCPP-Interop"
MODEL = "InteropModel-1"
FIRMWARE = "1.2.3"
SERIAL = "SN-" + secrets.token_hex(4)

# `additional_headers` in websockets >= 14, `extra_headers` before.
HEADERS_KW = (
    "additional_headers"
    if "additional_headers" in inspect.signature(ws_connect).parameters
    else "extra_headers"
)

# Enum member names differ between ocpp releases (Action.reset vs Action.Reset).
def _action(*names):
    for n in names:
        if hasattr(Action, n):
            return getattr(Action, n)
    raise AttributeError(f"ocpp.v16.enums.Action has none of {names}")


ACTION_RESET = _action("reset", "Reset")
ACTION_GET_CONFIGURATION = _action("get_configuration", "GetConfiguration")
ACTION_RESERVE_NOW = _action("reserve_now", "ReserveNow")
ACTION_CANCEL_RESERVATION = _action("cancel_reservation", "CancelReservation")
ACTION_SET_CHARGING_PROFILE = _action("set_charging_profile", "SetChargingProfile")
ACTION_UPDATE_FIRMWARE = _action("update_firmware", "UpdateFirmware")

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def summary():
    print(f"{passed} passed, {failed} failed", flush=True)


# --------------------------------------------------------------------------- HTTP


def http(method, path, body=None, token=None):
    """Blocking JSON request; returns (status, parsed body or raw text)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(HTTP + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=40) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


async def ahttp(*args, **kwargs):
    # In a thread: the charge point's event loop must keep running to answer the
    # server's CALLs while the REST request that triggered them is in flight.
    return await asyncio.to_thread(http, *args, **kwargs)


# --------------------------------------------------------------------------- WebSocket


def handshake_status(exc):
    """The HTTP status of a refused WebSocket handshake, for any websockets version."""
    resp = getattr(exc, "response", None)  # InvalidStatus (websockets >= 14)
    if resp is not None and hasattr(resp, "status_code"):
        return resp.status_code
    return getattr(exc, "status_code", None)  # InvalidStatusCode (older)


# InvalidStatus in websockets >= 14 (InvalidStatusCode is deprecated there), InvalidStatusCode before.
REFUSED = (
    (websockets.exceptions.InvalidStatus,)
    if hasattr(websockets.exceptions, "InvalidStatus")
    else (websockets.exceptions.InvalidStatusCode,)
)


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def connect(device_id, headers=None, ssl_context=None):
    kwargs = {"subprotocols": ["ocpp1.6"], "open_timeout": 10}
    if headers:
        kwargs[HEADERS_KW] = headers
    if ssl_context is None:
        return ws_connect(f"{OCPP}/{device_id}", **kwargs)
    return ws_connect(f"{WSS}/{device_id}", ssl=ssl_context, **kwargs)


async def expect_refused(name, device_id, headers, want, ssl_context=None):
    try:
        ws = await connect(device_id, headers, ssl_context)
    except REFUSED as e:
        got = handshake_status(e)
        return check(name, got == want, f"expected HTTP {want}, got {got}")
    except Exception as e:  # noqa: BLE001
        return check(name, False, f"expected HTTP {want}, got {type(e).__name__}: {e}")
    await ws.close()
    return check(name, False, f"expected HTTP {want}, but the connection was accepted")


# --------------------------------------------------------------------------- charge point


class InteropChargePoint(BaseChargePoint):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = []
        self.downloaded = None

    @on(ACTION_RESET)
    def on_reset(self, type, **kwargs):  # noqa: A002 - the OCPP field name
        self.received.append(("Reset", {"type": type}))
        return call_result.Reset(status="Accepted")

    @on(ACTION_GET_CONFIGURATION)
    def on_get_configuration(self, key=None, **kwargs):
        self.received.append(("GetConfiguration", {"key": key}))
        conf = [
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            {"key": "NumberOfConnectors", "readonly": True, "value": "1"},
            {"key": "AuthorizeRemoteTxRequests", "readonly": False, "value": "true"},
        ]
        if key:
            known = {c["key"] for c in conf}
            return call_result.GetConfiguration(
                configuration_key=[c for c in conf if c["key"] in key],
                unknown_key=[k for k in key if k not in known] or None,
            )
        return call_result.GetConfiguration(configuration_key=conf)


    @on(ACTION_RESERVE_NOW)
    def on_reserve_now(self, connector_id, expiry_date, id_tag, reservation_id, **kwargs):
        self.received.append(("ReserveNow", {"connectorId": connector_id, "idTag": id_tag,
                                             "reservationId": reservation_id}))
        return call_result.ReserveNow(status="Accepted")

    @on(ACTION_CANCEL_RESERVATION)
    def on_cancel_reservation(self, reservation_id, **kwargs):
        self.received.append(("CancelReservation", {"reservationId": reservation_id}))
        return call_result.CancelReservation(status="Accepted")

    @on(ACTION_SET_CHARGING_PROFILE)
    def on_set_charging_profile(self, connector_id, cs_charging_profiles, **kwargs):
        self.received.append(("SetChargingProfile", {"connectorId": connector_id,
                                                     "profile": cs_charging_profiles}))
        return call_result.SetChargingProfile(status="Accepted")

    @on(ACTION_UPDATE_FIRMWARE)
    def on_update_firmware(self, location, retrieve_date, **kwargs):
        self.received.append(("UpdateFirmware", {"location": location}))
        return call_result.UpdateFirmware()

    @after(ACTION_UPDATE_FIRMWARE)
    async def after_update_firmware(self, location, retrieve_date, **kwargs):
        # Download the image from csms over HTTP, as a real charger does, and report it.
        await self.call(call.FirmwareStatusNotification(status="Downloading"))
        try:
            data = await asyncio.to_thread(lambda: urllib.request.urlopen(location, timeout=20).read())
        except Exception:  # noqa: BLE001
            data = None
        self.downloaded = data
        await self.call(call.FirmwareStatusNotification(
            status="Downloaded" if data is not None else "DownloadFailed"))


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- scenario


async def scenario():
    # Operator login.
    st, body = await ahttp(
        "POST", "/api/admin/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    token = body.get("token") if isinstance(body, dict) else None
    if not check("operator login", st == 200 and bool(token), f"HTTP {st} {body}"):
        return

    st, body = await ahttp(
        "POST", "/api/admin/stations", {"name": f"Interop station {secrets.token_hex(3)}"}, token
    )
    station_id = (body or {}).get("station", {}).get("id") if isinstance(body, dict) else None
    if not check("create station", st == 201 and isinstance(station_id, int), f"HTTP {st} {body}"):
        return

    device_id = "PYCP-" + secrets.token_hex(4).upper()
    ocpp_password = "pw-" + secrets.token_hex(8)
    st, body = await ahttp(
        "POST",
        "/api/admin/chargers",
        {"deviceId": device_id, "stationId": station_id, "ocppPassword": ocpp_password},
        token,
    )
    if not check("register charger " + device_id, st == 201, f"HTTP {st} {body}"):
        return

    # Handshake refusals.
    await expect_refused("connect without credentials -> 401", device_id, None, 401)
    await expect_refused(
        "connect with a wrong password -> 401",
        device_id,
        {"Authorization": basic(device_id, "wrong-password")},
        401,
    )
    await expect_refused(
        "connect as another user -> 401",
        device_id,
        {"Authorization": basic("SOMEONE-ELSE", ocpp_password)},
        401,
    )
    await expect_refused(
        "connect with an unknown id -> 404",
        "UNKNOWN-" + secrets.token_hex(4).upper(),
        {"Authorization": basic("whoever", "whatever-pw")},
        404,
    )

    # The real connection.
    try:
        ws = await connect(device_id, {"Authorization": basic(device_id, ocpp_password)})
    except Exception as e:  # noqa: BLE001
        check("connect with Basic auth", False, f"{type(e).__name__}: {e}")
        return
    check("connect with Basic auth", True)

    async with ws:
        check(
            "subprotocol ocpp1.6 negotiated",
            ws.subprotocol == "ocpp1.6",
            f"got {ws.subprotocol!r}",
        )
        cp = InteropChargePoint(device_id, ws, response_timeout=15)
        loop_task = asyncio.create_task(cp.start())
        try:
            await charge_point_flow(cp, device_id, token)
            await feature_flow(cp, device_id, token)
        finally:
            loop_task.cancel()
            try:
                await loop_task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass

    if WSS:
        await tls_scenario(token, station_id)


# --------------------------------------------------------------------------- TLS


def tls_context(client=None, minimum=None, maximum=None, ciphers=None):
    """A client context trusting the test CA; `client` = (cert, key) for security profile 3."""
    import ssl

    ctx = ssl.create_default_context(cafile=os.path.join(PKI, "ca.pem"))
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers:
        ctx.set_ciphers(ciphers)
    if client:
        ctx.load_cert_chain(str(client[0]), str(client[1]))
    return ctx


def raw_tls(ctx):
    """A bare TLS handshake with csms's wss port: (protocol, cipher) or the error text."""
    import socket
    import ssl

    host_port = WSS.split("://", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            with ctx.wrap_socket(sock, server_hostname=host) as tls:
                return tls.version(), tls.cipher()[0]
    except (ssl.SSLError, OSError) as e:
        return None, f"{type(e).__name__}: {e}"


async def register(token, station_id, device_id, body):
    st, resp = await ahttp(
        "POST", "/api/admin/chargers", {"deviceId": device_id, "stationId": station_id, **body}, token
    )
    check(f"register {device_id} ({body.get('securityProfile')})", st == 201, f"HTTP {st} {resp}")
    return resp if isinstance(resp, dict) else {}


async def boot_over(ws, device_id):
    """BootNotification and Heartbeat over an open connection; True when both are accepted."""
    cp = InteropChargePoint(device_id, ws, response_timeout=15)
    loop_task = asyncio.create_task(cp.start())
    try:
        boot = await cp.call(
            call.BootNotification(charge_point_model=MODEL, charge_point_vendor=VENDOR),
            suppress=False,
        )
        beat = await cp.call(call.Heartbeat(), suppress=False)
        return boot.status == "Accepted" and bool(beat.current_time)
    finally:
        loop_task.cancel()
        try:
            await loop_task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001
            pass


async def tls_scenario(token, station_id):
    import ssl

    import pki

    # Python's ssl (OpenSSL) as the second TLS implementation.
    version, cipher = raw_tls(tls_context(minimum=ssl.TLSVersion.TLSv1_2,
                                          maximum=ssl.TLSVersion.TLSv1_2,
                                          ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"))
    check("TLS 1.2 with a whitepaper suite (ECDHE-ECDSA-AES128-GCM-SHA256)",
          version == "TLSv1.2" and cipher == "ECDHE-ECDSA-AES128-GCM-SHA256", f"{version} {cipher}")
    version, cipher = raw_tls(tls_context(minimum=ssl.TLSVersion.TLSv1_3))
    check("TLS 1.3 negotiated", version == "TLSv1.3", f"{version} {cipher}")
    version, detail = raw_tls(tls_context(maximum=ssl.TLSVersion.TLSv1_2,
                                          ciphers="ECDHE-ECDSA-CHACHA20-POLY1305"))
    check("a suite outside the whitepaper's list is refused by the server",
          version is None and "ALERT" in detail.upper(), f"{version} {detail}")
    legacy = tls_context()
    with warnings.catch_warnings():  # TLSv1_1 is deprecated in Python: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        legacy.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        legacy.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    version, detail = raw_tls(legacy)
    # Refused by csms (an alert from the server), not by this client's own OpenSSL settings.
    check("TLS 1.1 is refused by the server", version is None and "ALERT" in detail.upper(),
          f"{version} {detail}")

    # Security profile 2: Basic auth over TLS.
    sp2 = "PYSP2-" + secrets.token_hex(3).upper()
    sp2_password = "pw2-" + secrets.token_hex(8)
    await register(token, station_id, sp2, {"securityProfile": 2, "ocppPassword": sp2_password})
    await expect_refused("profile 2 over plain ws -> 403", sp2,
                         {"Authorization": basic(sp2, sp2_password)}, 403)
    await expect_refused("profile 2 over TLS without a password -> 401", sp2, None, 401,
                         tls_context())
    try:
        async with await connect(sp2, {"Authorization": basic(sp2, sp2_password)},
                                 tls_context()) as ws:
            check("profile 2: wss + Basic auth, booted", await boot_over(ws, sp2))
    except Exception as e:  # noqa: BLE001
        check("profile 2: wss + Basic auth, booted", False, f"{type(e).__name__}: {e}")

    # Security profile 3: a client certificate whose CN is the chargeBoxId.
    sp3 = "PYSP3-" + secrets.token_hex(3).upper()
    await register(token, station_id, sp3, {"securityProfile": 3})
    good = pki.client(PKI, sp3)
    try:
        async with await connect(sp3, None, tls_context(client=good)) as ws:
            check("profile 3: client certificate, booted", await boot_over(ws, sp3))
    except Exception as e:  # noqa: BLE001
        check("profile 3: client certificate, booted", False, f"{type(e).__name__}: {e}")
    await expect_refused("profile 3 without a client certificate -> 403", sp3, None, 403,
                         tls_context())
    await expect_refused("profile 3 with another charger's certificate -> 403", sp3, None, 403,
                         tls_context(client=pki.client(PKI, "SOMEONE-ELSE")))
    for kind in ("expired", "foreign"):
        name = f"profile 3 with a certificate that is {kind}: TLS handshake fails"
        try:
            ws = await connect(sp3, None, tls_context(client=pki.client(PKI, sp3, kind)))
        except REFUSED as e:
            check(name, False, f"got HTTP {handshake_status(e)}")
        except Exception:  # noqa: BLE001 - ssl.SSLError or ConnectionClosed, by version
            check(name, True)
        else:
            # TLS 1.3 reports a refused client certificate after the handshake: the first read fails.
            try:
                await asyncio.wait_for(ws.recv(), 5)
                check(name, False, "the connection stayed open")
            except Exception:  # noqa: BLE001
                check(name, True)


async def charge_point_flow(cp, device_id, token):
    async def cp_call(name, payload):
        try:
            return await cp.call(payload, suppress=False)
        except Exception as e:  # noqa: BLE001 - CallError, TimeoutError, validation
            check(name, False, f"{type(e).__name__}: {e}")
            return None

    # BootNotification.
    boot = await cp_call(
        "BootNotification",
        call.BootNotification(
            charge_point_model=MODEL,
            charge_point_vendor=VENDOR,
            charge_point_serial_number=SERIAL,
            firmware_version=FIRMWARE,
        ),
    )
    if boot is not None:
        check("BootNotification status Accepted", boot.status == "Accepted", f"{boot}")
        check(
            "BootNotification interval > 0",
            isinstance(boot.interval, int) and boot.interval > 0,
            f"{boot.interval!r}",
        )
        check("BootNotification currentTime present", bool(boot.current_time), f"{boot}")

    # StatusNotification for connector 0 and 1.
    for connector in (0, 1):
        res = await cp_call(
            f"StatusNotification connector {connector}",
            call.StatusNotification(
                connector_id=connector,
                error_code="NoError",
                status="Available",
                timestamp=now_iso(),
            ),
        )
        if res is not None:
            check(f"StatusNotification connector {connector} answered", True)

    # Heartbeat.
    hb = await cp_call("Heartbeat", call.Heartbeat())
    if hb is not None:
        check("Heartbeat currentTime present", bool(hb.current_time), f"{hb}")

    # Authorize with an unknown idTag.
    auth = await cp_call("Authorize", call.Authorize(id_tag="UNKNOWN" + secrets.token_hex(4)))
    if auth is not None:
        info = auth.id_tag_info or {}
        status = info.get("status") if isinstance(info, dict) else getattr(info, "status", None)
        check("Authorize unknown idTag -> Invalid", status == "Invalid", f"idTagInfo={info}")

    # Operator view of the charger.
    st, body = await ahttp("GET", f"/api/admin/chargers/{device_id}", token=token)
    ch = (body or {}).get("charger", {}) if isinstance(body, dict) else {}
    check("GET charger", st == 200 and bool(ch), f"HTTP {st} {body}")
    check("charger online", ch.get("online") is True, f"online={ch.get('online')!r}")
    check("charger vendor as booted", ch.get("vendor") == VENDOR, f"vendor={ch.get('vendor')!r}")
    check("charger model as booted", ch.get("model") == MODEL, f"model={ch.get('model')!r}")
    check(
        "charger firmware as booted",
        ch.get("firmwareVersion") == FIRMWARE,
        f"firmwareVersion={ch.get('firmwareVersion')!r}",
    )
    conns = ch.get("connectors") or []
    c1 = next((c for c in conns if c.get("connectorId") == 1), None)
    check(
        "connector 1 Available",
        c1 is not None and c1.get("status") == "Available",
        f"connectors={conns}",
    )

    # Remote commands through the operator API, answered by this charge point.
    st, body = await ahttp(
        "POST", f"/api/admin/chargers/{device_id}/commands/Reset", {"type": "Soft"}, token
    )
    ok = (
        st == 200
        and isinstance(body, dict)
        and body.get("success") is True
        and (body.get("response") or {}).get("status") == "Accepted"
    )
    check("command Reset Soft -> Accepted", ok, f"HTTP {st} {body}")
    check(
        "charge point received Reset Soft",
        ("Reset", {"type": "Soft"}) in cp.received,
        f"received={cp.received}",
    )

    st, body = await ahttp(
        "POST", f"/api/admin/chargers/{device_id}/commands/GetConfiguration", {}, token
    )
    keys = []
    if isinstance(body, dict):
        keys = [k.get("key") for k in (body.get("response") or {}).get("configurationKey") or []]
    check(
        "command GetConfiguration -> HeartbeatInterval",
        st == 200
        and isinstance(body, dict)
        and body.get("success") is True
        and "HeartbeatInterval" in keys,
        f"HTTP {st} {body}",
    )

    st, body = await ahttp(
        "POST",
        f"/api/admin/chargers/{device_id}/commands/GetConfiguration",
        {"key": ["HeartbeatInterval", "NoSuchKey"]},
        token,
    )
    resp = (body.get("response") or {}) if isinstance(body, dict) else {}
    check(
        "command GetConfiguration with keys -> unknownKey",
        st == 200
        and [k.get("key") for k in resp.get("configurationKey") or []] == ["HeartbeatInterval"]
        and resp.get("unknownKey") == ["NoSuchKey"],
        f"HTTP {st} {body}",
    )

    # A schema-violating command is refused before anything is sent.
    before = len(cp.received)
    st, body = await ahttp(
        "POST", f"/api/admin/chargers/{device_id}/commands/Reset", {"type": "Bogus"}, token
    )
    check(
        "command Reset {type: Bogus} -> 400",
        st == 400 and isinstance(body, dict) and body.get("success") is False
        and bool(body.get("error")),
        f"HTTP {st} {body}",
    )
    await asyncio.sleep(0.3)
    check(
        "invalid Reset never reached the charge point",
        len(cp.received) == before,
        f"received={cp.received[before:]}",
    )

    # The charger is still healthy after the commands.
    hb = await cp_call("Heartbeat after commands", call.Heartbeat())
    if hb is not None:
        check("Heartbeat after commands", bool(hb.current_time), f"{hb}")

    # The message log recorded the exchange.
    st, body = await ahttp("GET", f"/api/admin/chargers/{device_id}/messages", token=token)
    actions = (
        {m.get("action") for m in body.get("messages") or []} if isinstance(body, dict) else set()
    )
    want = {"BootNotification", "StatusNotification", "Heartbeat", "Authorize", "Reset",
            "GetConfiguration"}
    check(
        "message log has the exchange",
        st == 200 and want <= actions,
        f"HTTP {st}, missing {sorted(want - actions)}",
    )


def http_raw(method, path, data, token):
    """A request with a raw (octet-stream) body; returns (status, parsed JSON body)."""
    req = urllib.request.Request(HTTP + path, data=data, method=method)
    req.add_header("Content-Type", "application/octet-stream")
    req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=40) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


async def feature_flow(cp, device_id, token):
    """Tokens, a reservation, a charging profile and a firmware update against this charge point."""
    async def cp_call(name, payload):
        try:
            return await cp.call(payload, suppress=False)
        except Exception as e:  # noqa: BLE001
            check(name, False, f"{type(e).__name__}: {e}")
            return None

    def status_of(res):
        info = res.id_tag_info or {}
        return info.get("status") if isinstance(info, dict) else getattr(info, "status", None)

    # Tokens: Blocked, Expired, and one Accepted with a group.
    suffix = secrets.token_hex(3).upper()
    tags = {
        "blocked": (f"BLK{suffix}", {"status": "Blocked"}),
        "expired": (f"EXP{suffix}", {"expiryDate": "2020-01-01T00:00:00Z"}),
        "valid": (f"OK{suffix}", {"parentIdTag": "GROUP"}),
    }
    for name, (tag, extra) in tags.items():
        st, body = await ahttp("POST", "/api/admin/id-tags", {"idTag": tag, **extra}, token)
        check(f"token {name} registered", st == 201, f"HTTP {st} {body}")
    for name, want in (("blocked", "Blocked"), ("expired", "Expired"), ("valid", "Accepted")):
        res = await cp_call(f"Authorize {name}", call.Authorize(id_tag=tags[name][0].lower()))
        if res is not None:
            check(f"Authorize {name} token -> {want}", status_of(res) == want, f"{res}")

    # A reservation for the valid token, used by its StartTransaction.
    valid = tags["valid"][0]
    st, body = await ahttp(
        "POST", "/api/admin/reservations",
        {"deviceId": device_id, "connectorId": 1, "idTag": valid, "minutes": 10}, token)
    rid = (body or {}).get("reservation", {}).get("id") if isinstance(body, dict) else None
    check("reservation accepted", st == 201 and isinstance(rid, int), f"HTTP {st} {body}")
    check("charge point received ReserveNow",
          ("ReserveNow", {"connectorId": 1, "idTag": valid, "reservationId": rid}) in cp.received,
          f"received={cp.received}")
    start = await cp_call("StartTransaction with reservationId", call.StartTransaction(
        connector_id=1, id_tag=valid, meter_start=0, timestamp=now_iso(), reservation_id=rid))
    if start is not None:
        check("StartTransaction on the reservation -> Accepted", status_of(start) == "Accepted",
              f"{start}")
        st, body = await ahttp("GET", f"/api/admin/reservations?deviceId={device_id}", token=token)
        res = (body or {}).get("reservations", [{}])[0] if isinstance(body, dict) else {}
        check("reservation used", res.get("status") == "used", f"{body}")
        stop = await cp_call("StopTransaction", call.StopTransaction(
            meter_stop=1000, timestamp=now_iso(), transaction_id=start.transaction_id,
            reason="Local"))
        check("StopTransaction answered", stop is not None)

    # A charging profile.
    profile = {"stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
               "chargingProfileKind": "Absolute",
               "chargingSchedule": {"chargingRateUnit": "A", "startSchedule": now_iso(),
                                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}}
    st, body = await ahttp("POST", f"/api/admin/chargers/{device_id}/charging-profiles",
                           {"connectorId": 0, "chargingProfile": profile}, token)
    installed = (body or {}).get("profile", {}) if isinstance(body, dict) else {}
    check("charging profile installed", st == 201 and installed.get("status") == "installed",
          f"HTTP {st} {body}")
    check("charge point received SetChargingProfile",
          any(a == "SetChargingProfile" for a, _ in cp.received), f"received={cp.received}")

    # A firmware update: csms hosts the image, the charge point downloads it.
    image = b"interop firmware " + secrets.token_bytes(16)
    st, body = await asyncio.to_thread(
        http_raw, "POST", "/api/admin/firmware?name=fw.bin&version=9.9", image, token)
    image_id = (body or {}).get("image", {}).get("id") if isinstance(body, dict) else None
    check("firmware image uploaded", st == 201 and isinstance(image_id, int), f"HTTP {st} {body}")
    st, body = await ahttp("POST", f"/api/admin/chargers/{device_id}/firmware",
                           {"imageId": image_id}, token)
    job_id = (body or {}).get("job", {}).get("id") if isinstance(body, dict) else None
    check("UpdateFirmware sent", st == 201 and isinstance(job_id, int), f"HTTP {st} {body}")
    status = None
    for _ in range(100):
        st, body = await ahttp("GET", f"/api/admin/chargers/{device_id}/maintenance", token=token)
        jobs = (body or {}).get("jobs", []) if isinstance(body, dict) else []
        status = next((j.get("status") for j in jobs if j.get("id") == job_id), None)
        if status == "Downloaded":
            break
        await asyncio.sleep(0.1)
    check("firmware job Downloaded", status == "Downloaded", f"status={status!r}")
    check("the charge point downloaded the image from csms", cp.downloaded == image,
          f"{len(cp.downloaded or b'')} bytes")


def main():
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    def on_alarm(signum, frame):  # last resort if the event loop itself is stuck
        print(f"FAIL overall timeout of {TIMEOUT:g}s (hard)", flush=True)
        global failed
        failed += 1
        summary()
        os._exit(2)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(TIMEOUT) + 10)

    print(
        f"csms interop: ocpp {_version('ocpp')}, websockets {websockets.__version__}, "
        f"HTTP {HTTP}, OCPP {OCPP}",
        flush=True,
    )
    code = 0
    try:
        asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    except (asyncio.TimeoutError, TimeoutError):
        check(f"overall timeout of {TIMEOUT:g}s", False)
        code = 2
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        check("scenario raised an exception", False)
        code = 2
    signal.alarm(0)
    if passed == 0 and failed == 0:
        check("ran at least one check", False)
    summary()
    sys.exit(code or (1 if failed else 0))


def _version(dist):
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    main()
