#!/usr/bin/env python3
"""Interoperability test for OCPP 2.0.1: an independent charging station (the PyPI `ocpp`
package's `ocpp.v201` ChargePoint over `websockets`) against a running csms server that serves
`ocpp2.0.1` (CSMS_OCPP_VERSIONS=ocpp1.6,ocpp2.0.1).

The library validates every message against its own copy of the official 2.0.1 schemas: each
answer csms gives to the station's CALLs (a refused answer fails the check that made the call),
and each CALL csms sends (a refused CALL is recorded and fails "every CALL from csms passed the
library's schema check").

Scenario: boot, status, heartbeat, Authorize (unknown, registered with a group); a customer
created and credited over REST starts charging (RequestStartTransaction with a remoteStartId and
a one-time idToken, answered Accepted, then TransactionEvent Started with both), meter values
(TransactionEvent Updated with Energy.Active.Import.Register readings and a MeterValues), the
customer's stop (RequestStopTransaction with the station's transactionId, then Ended with the
final reading; the session completed, its cost = the Ended answer's totalCost, the wallet exact);
a customer's reservation (ReserveNow) cancelled (CancelReservation); the operator's GetVariables
and SetVariables relayed as given, with the station's answer in the response; the operator's
UpdateFirmware (a job that follows the station's FirmwareStatusNotifications to Installed),
SetChargingProfile, SetDisplayMessage and InstallCertificate (csms then knows the root installed),
each relayed as given and answered Accepted.

Environment: as ocpp_interop.py (CSMS_HTTP, CSMS_OCPP, CSMS_ADMIN_EMAIL, CSMS_ADMIN_PASSWORD,
INTEROP_TIMEOUT: this scenario's own time limit, default 60); INTEROP_VERBOSE=1 prints every
frame the station sends and receives.

Prints one PASS/FAIL line per check and closes with `OCPP 2.0.1: N passed, M failed`.
Exit status: 0 when every check passed, 1 otherwise, 2 on a crash or timeout.
"""

import asyncio
import logging
import os
import secrets
import signal
import sys
import traceback
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import websockets
from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint as BaseChargePoint
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action

# The HTTP, WebSocket and check helpers of the 1.6 scenario (same directory).
import ocpp_interop as base
from ocpp_interop import (
    HEADERS_KW,
    OCPP,
    REFUSED,
    TIMEOUT,
    _version,
    ahttp,
    basic,
    check,
    handshake_status,
    now_iso,
    ws_connect,
)

VENDOR = "PyOCPP-Interop-201"
MODEL = "InteropModel-201"
FIRMWARE = "2.0.1-py"
SERIAL = "SN201-" + secrets.token_hex(4)
EVSE = 1
START_WH = 12_345.0  # the energy register when the transaction starts (not zero on purpose)


def _action(*names):
    for n in names:
        if hasattr(Action, n):
            return getattr(Action, n)
    raise AttributeError(f"ocpp.v201.enums.Action has none of {names}")


ACTION_REQUEST_START = _action("request_start_transaction", "RequestStartTransaction")
ACTION_REQUEST_STOP = _action("request_stop_transaction", "RequestStopTransaction")
ACTION_RESERVE_NOW = _action("reserve_now", "ReserveNow")
ACTION_CANCEL_RESERVATION = _action("cancel_reservation", "CancelReservation")
ACTION_GET_VARIABLES = _action("get_variables", "GetVariables")
ACTION_SET_VARIABLES = _action("set_variables", "SetVariables")
ACTION_TRIGGER_MESSAGE = _action("trigger_message", "TriggerMessage")
ACTION_GET_TRANSACTION_STATUS = _action("get_transaction_status", "GetTransactionStatus")
ACTION_UPDATE_FIRMWARE = _action("update_firmware", "UpdateFirmware")
ACTION_SET_CHARGING_PROFILE = _action("set_charging_profile", "SetChargingProfile")
ACTION_SET_DISPLAY_MESSAGE = _action("set_display_message", "SetDisplayMessage")
ACTION_INSTALL_CERTIFICATE = _action("install_certificate", "InstallCertificate")

# A CSMS root the operator installs on the station (self-signed EC, valid until 2126).
ROOT_PEM = """-----BEGIN CERTIFICATE-----
MIIBvTCCAWOgAwIBAgIUXd8+EsxMNXgbTjQ2vqJ2QmFCr9QwCgYIKoZIzj0EAwIw
MzEaMBgGA1UEAwwRSW50ZXJvcCBDU01TIFJvb3QxFTATBgNVBAoMDGNzbXMgaW50
ZXJvcDAgFw0yNjEyMDcyMzA1MTBaGA8yMTI2MTExMzIzMDUxMFowMzEaMBgGA1UE
AwwRSW50ZXJvcCBDU01TIFJvb3QxFTATBgNVBAoMDGNzbXMgaW50ZXJvcDBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABPesqd4/afk/DoopzbaHrOBpQ/KQZCjso/Nu
tgk7ugps1Jrb9I2mrcQg1TYEEdPpckLSo0aZ6iUqVkrTaDZg876jUzBRMB0GA1Ud
DgQWBBS9weSz+MQ7z/+Lt+iykMBSsM+6yDAfBgNVHSMEGDAWgBS9weSz+MQ7z/+L
t+iykMBSsM+6yDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIAM+
W7uC3Sf2Zvv4NqKLAsPrajJhtoUjiFSlK0P2+a7yAiEAwGKhjW4TGoGCInGP6eyz
5ojZRZNixEvIgfDyw5eUMnA=
-----END CERTIFICATE-----
"""
ROOT_SERIAL = "5DDF3E12CC4C35781B4E3436BEA276426142AFD4"
FIRMWARE_STATUSES = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"]


def paise(amount):
    """A decimal major-unit amount from the API as integer minor units (exact comparisons)."""
    return int((Decimal(str(amount)) * 100).to_integral_value())


def date_time(text):
    """An RFC 3339 date-time with a time zone (the schemas' `format: date-time`, which the
    library's Draft 4 validator does not check), as an aware datetime; None otherwise."""
    if not isinstance(text, str) or "T" not in text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def connect201(device_id, headers=None, subprotocols=("ocpp2.0.1",)):
    kwargs = {"subprotocols": list(subprotocols), "open_timeout": 10}
    if headers:
        kwargs[HEADERS_KW] = headers
    return ws_connect(f"{OCPP}/{device_id}", **kwargs)


# --------------------------------------------------------------------------- charging station


class Station201(BaseChargePoint):
    """An OCPP 2.0.1 station: answers csms's CALLs, starts a transaction when asked, ends it when
    asked. What csms sends is recorded; a CALL the library's schema check refuses too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = []  # (action, snake_case payload) of every CALL csms sent
        self.refused = []  # (action, error, payload) of CALLs the library refused
        self.answers = []  # (event type, answer) of our TransactionEvents
        self.errors = []  # exceptions of calls made from the after-handlers
        self.tx_id = None
        self.seq = 0
        self.register_wh = START_WH
        self.started = asyncio.Event()
        self.ended = asyncio.Event()
        self.variables = {
            ("OCPPCommCtrlr", "HeartbeatInterval"): "300",
            ("AuthCtrlr", "Enabled"): "true",
            ("AuthCacheCtrlr", "Enabled"): "false",
            ("DeviceDataCtrlr", "ItemsPerMessage"): "10",
        }

    async def _handle_call(self, msg):
        try:
            return await super()._handle_call(msg)
        except OCPPError as e:
            # Schema validation of csms's CALL failed (or no handler): the library answers
            # with a CALLERROR; note it for the check at the end.
            self.refused.append((msg.action, f"{type(e).__name__}: {e}", msg.payload))
            raise

    def got(self, action):
        return [p for a, p in self.received if a == action]

    # ---- what the station sends on its own

    def meter_value(self, context, wh=None):
        return [{
            "timestamp": now_iso(),
            "sampled_value": [{
                "value": self.register_wh if wh is None else wh,
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit_of_measure": {"unit": "Wh"},
            }],
        }]

    async def event(self, event_type, trigger, extra_info=None, meter=None, **fields):
        info = {"transaction_id": self.tx_id, **(extra_info or {})}
        payload = call.TransactionEvent(
            event_type=event_type,
            timestamp=now_iso(),
            trigger_reason=trigger,
            seq_no=self.seq,
            transaction_info=info,
            evse={"id": EVSE, "connector_id": 1},
            meter_value=meter,
            **fields,
        )
        self.seq += 1
        answer = await self.call(payload, suppress=False)
        self.answers.append((event_type, answer))
        return answer

    async def status(self, status):
        return await self.call(call.StatusNotification(
            timestamp=now_iso(), connector_status=status, evse_id=EVSE, connector_id=1),
            suppress=False)

    # ---- csms's CALLs

    @on(ACTION_REQUEST_START)
    def on_request_start(self, id_token, remote_start_id, evse_id=None, **kwargs):
        self.received.append(("RequestStartTransaction", {
            "id_token": id_token, "remote_start_id": remote_start_id, "evse_id": evse_id,
            **kwargs}))
        if self.tx_id is not None:
            return call_result.RequestStartTransaction(status="Rejected")
        self.tx_id = "PYTX-" + secrets.token_hex(6)
        self.seq = 0
        return call_result.RequestStartTransaction(status="Accepted")

    @after(ACTION_REQUEST_START)
    async def after_request_start(self, id_token, remote_start_id, evse_id=None, **kwargs):
        # As a station does: the cable is in, so the transaction starts with the remote start's
        # idToken and remoteStartId.
        try:
            await self.status("Occupied")
            await self.event(
                "Started", "RemoteStart",
                {"remote_start_id": remote_start_id, "charging_state": "Charging"},
                self.meter_value("Transaction.Begin"),
                id_token=id_token,
            )
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"Started: {type(e).__name__}: {e}")
        self.started.set()

    @on(ACTION_REQUEST_STOP)
    def on_request_stop(self, transaction_id, **kwargs):
        self.received.append(("RequestStopTransaction", {"transaction_id": transaction_id}))
        known = transaction_id == self.tx_id and not self.ended.is_set()
        return call_result.RequestStopTransaction(status="Accepted" if known else "Rejected")

    @after(ACTION_REQUEST_STOP)
    async def after_request_stop(self, transaction_id, **kwargs):
        if transaction_id != self.tx_id or self.ended.is_set():
            return
        try:
            self.register_wh += 200.0  # the last energy before the contactor opens
            await self.event(
                "Ended", "RemoteStop",
                {"stopped_reason": "Remote", "charging_state": "Idle"},
                self.meter_value("Transaction.End"),
            )
            await self.status("Available")
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"Ended: {type(e).__name__}: {e}")
        self.ended.set()

    @on(ACTION_RESERVE_NOW)
    def on_reserve_now(self, id, expiry_date_time, id_token, evse_id=None, **kwargs):  # noqa: A002
        self.received.append(("ReserveNow", {"id": id, "expiry_date_time": expiry_date_time,
                                             "id_token": id_token, "evse_id": evse_id, **kwargs}))
        return call_result.ReserveNow(status="Accepted")

    @on(ACTION_CANCEL_RESERVATION)
    def on_cancel_reservation(self, reservation_id, **kwargs):
        self.received.append(("CancelReservation", {"reservation_id": reservation_id}))
        return call_result.CancelReservation(status="Accepted")

    @on(ACTION_GET_VARIABLES)
    def on_get_variables(self, get_variable_data, **kwargs):
        self.received.append(("GetVariables", {"get_variable_data": get_variable_data}))
        results = []
        for item in get_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            result = {"component": item["component"], "variable": item["variable"]}
            if item.get("attribute_type"):
                result["attribute_type"] = item["attribute_type"]
            if key in self.variables:
                result.update(attribute_status="Accepted", attribute_value=self.variables[key])
            elif any(c == key[0] for c, _ in self.variables):
                result["attribute_status"] = "UnknownVariable"
            else:
                result["attribute_status"] = "UnknownComponent"
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on(ACTION_SET_VARIABLES)
    def on_set_variables(self, set_variable_data, **kwargs):
        self.received.append(("SetVariables", {"set_variable_data": set_variable_data}))
        results = []
        for item in set_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            result = {"component": item["component"], "variable": item["variable"]}
            if key in self.variables:
                self.variables[key] = item["attribute_value"]
                result["attribute_status"] = "Accepted"
            elif any(c == key[0] for c, _ in self.variables):
                result["attribute_status"] = "UnknownVariable"
            else:
                result["attribute_status"] = "UnknownComponent"
            results.append(result)
        return call_result.SetVariables(set_variable_result=results)

    @on(ACTION_TRIGGER_MESSAGE)
    def on_trigger_message(self, requested_message, **kwargs):
        self.received.append(("TriggerMessage", {"requested_message": requested_message}))
        return call_result.TriggerMessage(status="Rejected")

    @on(ACTION_UPDATE_FIRMWARE)
    def on_update_firmware(self, request_id, firmware, **kwargs):
        self.received.append(("UpdateFirmware", {"request_id": request_id, "firmware": firmware}))
        return call_result.UpdateFirmware(status="Accepted")

    @after(ACTION_UPDATE_FIRMWARE)
    async def after_update_firmware(self, request_id, firmware, **kwargs):
        try:
            for status in FIRMWARE_STATUSES:
                await asyncio.sleep(0.05)
                await self.call(call.FirmwareStatusNotification(
                    status=status, request_id=request_id), suppress=False)
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"FirmwareStatusNotification: {type(e).__name__}: {e}")

    @on(ACTION_SET_CHARGING_PROFILE)
    def on_set_charging_profile(self, evse_id, charging_profile, **kwargs):
        self.received.append(("SetChargingProfile",
                              {"evse_id": evse_id, "charging_profile": charging_profile}))
        return call_result.SetChargingProfile(status="Accepted")

    @on(ACTION_SET_DISPLAY_MESSAGE)
    def on_set_display_message(self, message, **kwargs):
        self.received.append(("SetDisplayMessage", {"message": message}))
        return call_result.SetDisplayMessage(status="Accepted")

    @on(ACTION_INSTALL_CERTIFICATE)
    def on_install_certificate(self, certificate_type, certificate, **kwargs):
        self.received.append(("InstallCertificate",
                              {"certificate_type": certificate_type, "certificate": certificate}))
        return call_result.InstallCertificate(status="Accepted")

    @on(ACTION_GET_TRANSACTION_STATUS)
    def on_get_transaction_status(self, transaction_id=None, **kwargs):
        self.received.append(("GetTransactionStatus", {"transaction_id": transaction_id}))
        ongoing = transaction_id is not None and transaction_id == self.tx_id \
            and not self.ended.is_set()
        return call_result.GetTransactionStatus(messages_in_queue=False, ongoing_indicator=ongoing)


# --------------------------------------------------------------------------- scenario


async def expect_refused(name, device_id, headers, want):
    try:
        ws = await connect201(device_id, headers)
    except REFUSED as e:
        got = handshake_status(e)
        return check(name, got == want, f"expected HTTP {want}, got {got}")
    except Exception as e:  # noqa: BLE001
        return check(name, False, f"expected HTTP {want}, got {type(e).__name__}: {e}")
    await ws.close()
    return check(name, False, f"expected HTTP {want}, but the connection was accepted")


async def scenario():
    st, body = await ahttp(
        "POST", "/api/admin/login",
        {"email": base.ADMIN_EMAIL, "password": base.ADMIN_PASSWORD})
    token = body.get("token") if isinstance(body, dict) else None
    if not check("operator login", st == 200 and bool(token), f"HTTP {st} {body}"):
        return
    st, body = await ahttp(
        "POST", "/api/admin/stations", {"name": f"Interop 2.0.1 {secrets.token_hex(3)}"}, token)
    station_id = (body or {}).get("station", {}).get("id") if isinstance(body, dict) else None
    if not check("create station", st == 201 and isinstance(station_id, int), f"HTTP {st} {body}"):
        return
    device_id = "PY201-" + secrets.token_hex(4).upper()
    password = "pw-" + secrets.token_hex(8)
    st, body = await ahttp(
        "POST", "/api/admin/chargers",
        {"deviceId": device_id, "stationId": station_id, "ocppPassword": password}, token)
    if not check("register charger " + device_id, st == 201, f"HTTP {st} {body}"):
        return

    await expect_refused("2.0.1 handshake with a wrong password -> 401", device_id,
                         {"Authorization": basic(device_id, "wrong-password")}, 401)

    try:
        # Offering both: csms picks the most recent it serves.
        ws = await connect201(device_id, {"Authorization": basic(device_id, password)},
                              ("ocpp1.6", "ocpp2.0.1"))
    except Exception as e:  # noqa: BLE001
        check("connect with Basic auth", False, f"{type(e).__name__}: {e}")
        return
    check("connect with Basic auth", True)
    async with ws:
        check("subprotocol ocpp2.0.1 negotiated (ocpp1.6 offered too)",
              ws.subprotocol == "ocpp2.0.1", f"got {ws.subprotocol!r}")
        cp = Station201(device_id, ws, response_timeout=15)
        loop_task = asyncio.create_task(cp.start())
        try:
            if await station_flow(cp, device_id, token):
                await wallet_flow(cp, device_id, token)
                await reservation_flow(cp, device_id, token)
                await variables_flow(cp, device_id, token)
                await management_flow(cp, device_id, token)
                await closing_checks(cp, device_id, token)
        finally:
            loop_task.cancel()
            try:
                await loop_task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass


async def cp_call(cp, name, payload):
    """A CALL from the station; None (and a FAIL) when csms's answer is a CALLERROR, late, or
    refused by the library's schema check."""
    try:
        return await cp.call(payload, suppress=False)
    except Exception as e:  # noqa: BLE001
        check(name, False, f"{type(e).__name__}: {e}")
        return None


async def station_flow(cp, device_id, token):
    boot = await cp_call(cp, "BootNotification", call.BootNotification(
        charging_station={"vendor_name": VENDOR, "model": MODEL, "serial_number": SERIAL,
                          "firmware_version": FIRMWARE},
        reason="PowerUp"))
    if boot is None:
        return False
    check("BootNotification Accepted", boot.status == "Accepted", f"{boot}")
    check("BootNotification interval > 0", isinstance(boot.interval, int) and boot.interval > 0,
          f"{boot.interval!r}")
    check("BootNotification currentTime is an RFC 3339 date-time",
          date_time(boot.current_time) is not None, f"{boot.current_time!r}")
    if boot.status != "Accepted":
        return False

    res = await cp_call(cp, "StatusNotification EVSE 1 Available", call.StatusNotification(
        timestamp=now_iso(), connector_status="Available", evse_id=EVSE, connector_id=1))
    if res is not None:
        check("StatusNotification EVSE 1 Available answered", True)
    hb = await cp_call(cp, "Heartbeat", call.Heartbeat())
    if hb is not None:
        check("Heartbeat currentTime is an RFC 3339 date-time",
              date_time(hb.current_time) is not None, f"{hb.current_time!r}")

    def status_of(res):
        info = res.id_token_info or {}
        return info.get("status") if isinstance(info, dict) else getattr(info, "status", None)

    auth = await cp_call(cp, "Authorize unknown", call.Authorize(
        id_token={"id_token": "UNKNOWN" + secrets.token_hex(4), "type": "ISO14443"}))
    if auth is not None:
        check("Authorize unknown idToken -> Invalid", status_of(auth) == "Invalid", f"{auth}")
    card = "CARD" + secrets.token_hex(4).upper()
    # Untyped (as a 1.6 tag), so it matches an idToken of any type. (The contract's
    # `idTokenType` on this route is not served yet: plan step 4.)
    st, body = await ahttp("POST", "/api/admin/id-tags",
                           {"idTag": card, "parentIdTag": "GROUP201"}, token)
    check("token registered (untyped, group GROUP201)", st == 201, f"HTTP {st} {body}")
    auth = await cp_call(cp, "Authorize registered", call.Authorize(
        id_token={"id_token": card, "type": "ISO14443"}))
    if auth is not None:
        info = auth.id_token_info or {}
        check("Authorize registered idToken -> Accepted with its group",
              status_of(auth) == "Accepted"
              and (info.get("group_id_token") or {}).get("id_token") == "GROUP201",
              f"{auth}")

    st, body = await ahttp("GET", f"/api/admin/chargers/{device_id}", token=token)
    ch = (body or {}).get("charger", {}) if isinstance(body, dict) else {}
    check("GET charger", st == 200 and bool(ch), f"HTTP {st} {body}")
    check("charger online", ch.get("online") is True, f"online={ch.get('online')!r}")
    check("charger ocppVersion ocpp2.0.1", ch.get("ocppVersion") == "ocpp2.0.1",
          f"ocppVersion={ch.get('ocppVersion')!r}")
    check("charger vendor/model/firmware as booted",
          (ch.get("vendor"), ch.get("model"), ch.get("firmwareVersion")) == (VENDOR, MODEL, FIRMWARE),
          f"{ch.get('vendor')!r} {ch.get('model')!r} {ch.get('firmwareVersion')!r}")
    c1 = next((c for c in ch.get("connectors") or [] if c.get("connectorId") == EVSE), None)
    check("connector 1 Available", c1 is not None and c1.get("status") == "Available",
          f"connectors={ch.get('connectors')}")
    return True


async def wait_for(event, seconds=15):
    try:
        await asyncio.wait_for(event.wait(), seconds)
        return True
    except (asyncio.TimeoutError, TimeoutError):
        return False


async def session_view(ctoken, sid):
    st, body = await ahttp("GET", f"/api/user/charging/sessions/{sid}", token=ctoken)
    return (body or {}).get("session", {}) if st == 200 and isinstance(body, dict) else {}


async def balance_of(ctoken):
    st, body = await ahttp("GET", "/api/user/wallet", token=ctoken)
    if st != 200 or not isinstance(body, dict) or body.get("balance") is None:
        return None
    return paise(body["balance"])


async def wallet_flow(cp, device_id, token):
    # A customer, credited by the operator.
    email = f"interop201-{secrets.token_hex(4)}@example.com"
    st, body = await ahttp("POST", "/api/customer/register",
                           {"name": "Interop 2.0.1", "email": email, "password": "password-201"})
    ctoken = (body or {}).get("token") if isinstance(body, dict) else None
    customer = (body or {}).get("customer", {}) if isinstance(body, dict) else {}
    if not check("customer registered", st == 201 and bool(ctoken), f"HTTP {st} {body}"):
        return
    initial = await balance_of(ctoken)
    st, body = await ahttp("POST", f"/api/admin/customers/{customer.get('id')}/wallet/credit",
                           {"amount": 100, "note": "interop 2.0.1"}, token)
    check("wallet credited 100.00", st in (200, 201), f"HTTP {st} {body}")
    credited = await balance_of(ctoken)
    check("balance = initial + 100.00", None not in (initial, credited)
          and credited == initial + 10_000, f"{initial} -> {credited} (paise)")
    st, body = await ahttp("GET", "/api/user/profile", token=ctoken)
    own_tag = ((body or {}).get("customer") or {}).get("idTag") if isinstance(body, dict) else None

    # The start: RequestStartTransaction with a remoteStartId and a one-time idToken.
    st, body = await ahttp("POST", "/api/user/charging/start",
                           {"deviceId": device_id, "connectorId": EVSE, "amount": 50}, ctoken)
    session = (body or {}).get("session", {}) if isinstance(body, dict) else {}
    sid = session.get("sessionId")
    if not check("customer start -> 200 Charging started successfully",
                 st == 200 and (body or {}).get("message") == "Charging started successfully"
                 and bool(sid), f"HTTP {st} {body}"):
        return
    held = await balance_of(ctoken)
    check("hold of 50.00 taken", held == credited - 5_000, f"{credited} -> {held} (paise)")
    reqs = cp.got("RequestStartTransaction")
    req = reqs[0] if reqs else {}
    id_token = req.get("id_token") or {}
    check("one RequestStartTransaction reached the station", len(reqs) == 1, f"{cp.received}")
    check("RequestStartTransaction for EVSE 1", req.get("evse_id") == EVSE, f"{req}")
    check("RequestStartTransaction has a remoteStartId",
          isinstance(req.get("remote_start_id"), int), f"{req}")
    check("RequestStartTransaction idToken is a one-time Central token",
          id_token.get("type") == "Central" and bool(id_token.get("id_token"))
          and id_token.get("id_token") != own_tag, f"{req} (customer's own idTag {own_tag!r})")

    # Started (sent by the after-handler): the remoteStartId and idToken csms gave.
    if not check("TransactionEvent Started sent", await wait_for(cp.started) and not cp.errors,
                 f"{cp.errors}"):
        return
    started = next((a for t, a in cp.answers if t == "Started"), None)
    info = (started.id_token_info or {}) if started else {}
    check("Started answered idTokenInfo Accepted", info.get("status") == "Accepted",
          f"{started}")
    if info.get("cache_expiry_date_time") is not None:
        check("Started answer cacheExpiryDateTime is an RFC 3339 date-time",
              date_time(info["cache_expiry_date_time"]) is not None, f"{info}")
    v = await session_view(ctoken, sid)
    check("session active with a transactionId",
          v.get("status") == "active" and isinstance(v.get("transactionId"), int), f"{v}")

    # Meter values: two Updated events, then a MeterValues.
    updated = []
    for delta in (1000.0, 500.0):
        cp.register_wh += delta
        try:
            updated.append(await cp.event("Updated", "MeterValuePeriodic", None,
                                          cp.meter_value("Sample.Periodic")))
        except Exception as e:  # noqa: BLE001
            check(f"TransactionEvent Updated (+{delta:g} Wh)", False, f"{type(e).__name__}: {e}")
            return
    check("TransactionEvent Updated x2 answered", len(updated) == 2)
    last = updated[-1]
    message = (last.updated_personal_message or {}).get("content", "") if last else ""
    check("Updated answer: no idTokenInfo without a token", last.id_token_info is None, f"{last}")
    check("Updated answer shows the running cost (1.5 kWh)",
          "so far" in message and "(1.5 kWh)" in message, f"{last}")
    v = await session_view(ctoken, sid)
    check("session energy 1.5 kWh after the Updated events", v.get("energyKwh") == 1.5, f"{v}")
    cp.register_wh += 100.0
    mv = await cp_call(cp, "MeterValues", call.MeterValues(
        evse_id=EVSE, meter_value=cp.meter_value("Sample.Periodic")))
    if mv is not None:
        check("MeterValues answered", True)

    # The customer's stop: RequestStopTransaction with the station's transactionId, then Ended.
    st, body = await ahttp("POST", "/api/user/charging/stop", {"sessionId": sid}, ctoken)
    check("customer stop -> 200", st == 200 and (body or {}).get("success") is True,
          f"HTTP {st} {body}")
    stops = cp.got("RequestStopTransaction")
    check("RequestStopTransaction names the station's transactionId",
          bool(stops) and stops[0] == {"transaction_id": cp.tx_id}, f"{stops} vs {cp.tx_id}")
    if not check("TransactionEvent Ended sent", await wait_for(cp.ended) and not cp.errors,
                 f"{cp.errors}"):
        return
    ended = next((a for t, a in cp.answers if t == "Ended"), None)
    total_cost = ended.total_cost if ended else None
    check("Ended answered with totalCost", isinstance(total_cost, (int, float)), f"{ended}")
    for _ in range(50):
        v = await session_view(ctoken, sid)
        if v.get("status") == "completed":
            break
        await asyncio.sleep(0.1)
    want_kwh = (cp.register_wh - START_WH) / 1000.0
    check("session completed", v.get("status") == "completed", f"{v}")
    check(f"session energy {want_kwh:g} kWh (the final reading)", v.get("energyKwh") == want_kwh,
          f"{v}")
    cost = v.get("cost")
    check("session cost > 0", isinstance(cost, (int, float)) and cost > 0, f"{v}")
    check("session cost == Ended totalCost",
          cost is not None and total_cost is not None and paise(cost) == paise(total_cost),
          f"cost={cost} totalCost={total_cost}")
    if v.get("refund") is not None and cost is not None:
        check("session refund == 50.00 - cost", paise(v["refund"]) == 5_000 - paise(cost), f"{v}")
    final = await balance_of(ctoken)
    check("wallet = credited - cost (the rest of the hold refunded)",
          cost is not None and final == credited - paise(cost),
          f"credited={credited} final={final} cost={cost} (paise)")


async def reservation_flow(cp, device_id, token):
    email = f"interop201r-{secrets.token_hex(4)}@example.com"
    st, body = await ahttp("POST", "/api/customer/register",
                           {"name": "Interop 2.0.1 R", "email": email, "password": "password-201"})
    ctoken = (body or {}).get("token") if isinstance(body, dict) else None
    cid = ((body or {}).get("customer") or {}).get("id") if isinstance(body, dict) else None
    if not check("second customer registered", st == 201 and bool(ctoken), f"HTTP {st} {body}"):
        return
    await ahttp("POST", f"/api/admin/customers/{cid}/wallet/credit", {"amount": 20}, token)
    st, body = await ahttp("POST", "/api/user/reservations",
                           {"deviceId": device_id, "connectorId": EVSE, "minutes": 10}, ctoken)
    res = (body or {}).get("reservation", {}) if isinstance(body, dict) else {}
    if not check("customer reservation -> 201", st == 201 and bool(res), f"HTTP {st} {body}"):
        return
    sent = cp.got("ReserveNow")
    rn = sent[-1] if sent else {}
    check("ReserveNow reached the station", len(sent) == 1, f"{cp.received}")
    check("ReserveNow for EVSE 1 with a Central idToken and an expiry",
          rn.get("evse_id") == EVSE and (rn.get("id_token") or {}).get("type") == "Central"
          and bool(rn.get("expiry_date_time")), f"{rn}")
    expiry = date_time(rn.get("expiry_date_time"))
    now = datetime.now(timezone.utc)
    check("ReserveNow expiryDateTime about 10 minutes ahead (RFC 3339)",
          expiry is not None and timedelta(minutes=9) < expiry - now <= timedelta(minutes=11),
          f"{rn.get('expiry_date_time')!r}")
    rid = res.get("reservationId", res.get("id"))
    check("ReserveNow id is the reservation's", isinstance(rn.get("id"), int)
          and rn.get("id") in (res.get("reservationId"), res.get("id")), f"{rn} vs {res}")
    st, body = await ahttp("DELETE", f"/api/user/reservations/{res.get('id')}", token=ctoken)
    check("customer cancels the reservation -> 200", st == 200, f"HTTP {st} {body}")
    for _ in range(50):  # csms may send it once the cancellation is recorded
        cancels = cp.got("CancelReservation")
        if cancels:
            break
        await asyncio.sleep(0.1)
    check("CancelReservation names the reservation",
          cancels == [{"reservation_id": rn.get("id")}], f"{cancels} (ReserveNow id {rn.get('id')}, {rid})")
    st, body = await ahttp("GET", "/api/user/reservations", token=ctoken)
    mine = [r for r in (body or {}).get("reservations", []) if r.get("id") == res.get("id")] \
        if isinstance(body, dict) else []
    check("reservation cancelled", bool(mine) and mine[0].get("status") == "cancelled", f"{body}")


async def command(device_id, token, action, payload):
    st, body = await ahttp("POST", f"/api/admin/chargers/{device_id}/commands/{action}",
                           payload, token)
    resp = (body or {}).get("response") if isinstance(body, dict) else None
    return st, body, resp or {}


async def variables_flow(cp, device_id, token):
    hb = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    unknown = {"component": {"name": "NoSuchCtrlr"}, "variable": {"name": "Whatever"}}
    given = {"getVariableData": [hb, unknown]}
    st, body, resp = await command(device_id, token, "GetVariables", given)
    results = resp.get("getVariableResult") or []
    check("GetVariables -> 200 with the station's answer",
          st == 200 and body.get("success") is True and body.get("action") == "GetVariables"
          and len(results) == 2, f"HTTP {st} {body}")
    check("GetVariables HeartbeatInterval Accepted 300, unknown component UnknownComponent",
          [(r.get("attributeStatus"), r.get("attributeValue")) for r in results]
          == [("Accepted", "300"), ("UnknownComponent", None)], f"{results}")
    got = cp.got("GetVariables")
    check("GetVariables relayed as given",
          got == [{"get_variable_data": [
              {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
              {"component": {"name": "NoSuchCtrlr"}, "variable": {"name": "Whatever"}}]}],
          f"{got}")

    st, body, resp = await command(device_id, token, "SetVariables", {"setVariableData": [
        {**hb, "attributeValue": "120"},
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "NoSuchVariable"},
         "attributeValue": "1"}]})
    results = resp.get("setVariableResult") or []
    check("SetVariables -> 200 with the station's answer",
          st == 200 and body.get("success") is True and len(results) == 2, f"HTTP {st} {body}")
    check("SetVariables HeartbeatInterval Accepted, unknown variable UnknownVariable",
          [r.get("attributeStatus") for r in results] == ["Accepted", "UnknownVariable"],
          f"{results}")
    got = cp.got("SetVariables")
    check("SetVariables relayed as given",
          len(got) == 1 and [i.get("attribute_value") for i in got[0]["set_variable_data"]]
          == ["120", "1"], f"{got}")
    st, body, resp = await command(device_id, token, "GetVariables", {"getVariableData": [hb]})
    results = resp.get("getVariableResult") or []
    check("GetVariables reads the new HeartbeatInterval 120",
          st == 200 and [r.get("attributeValue") for r in results] == ["120"], f"HTTP {st} {body}")

    # Refused before sending: not valid against the 2.0.1 schema, and a 1.6 action.
    before = len(cp.received)
    st, body, _ = await command(device_id, token, "GetVariables", {"getVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}}]})
    check("GetVariables without a variable -> 400", st == 400 and body.get("success") is False,
          f"HTTP {st} {body}")
    st, body, _ = await command(device_id, token, "GetConfiguration", {})
    check("1.6 GetConfiguration on a 2.0.1 station -> 404", st == 404, f"HTTP {st} {body}")
    await asyncio.sleep(0.3)
    check("the refused commands never reached the station", len(cp.received) == before,
          f"{cp.received[before:]}")


async def management_flow(cp, device_id, token):
    """The operator's firmware update (a job following the station's statuses), charging profile,
    display message and certificate install, each relayed as given and answered Accepted."""
    later = (datetime.now(timezone.utc) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    update = {"requestId": 301, "retries": 2, "retryInterval": 30, "firmware": {
        "location": "https://firmware.example.com/interop-2.1.bin", "retrieveDateTime": later,
        "signingCertificate": "MIICaTCCAdKgAwIBAgIUXzo...", "signature": "c2lnbmF0dXJl"}}
    st, body, resp = await command(device_id, token, "UpdateFirmware", update)
    check("UpdateFirmware -> 200, the station's Accepted",
          st == 200 and resp.get("status") == "Accepted", f"HTTP {st} {body}")
    got = cp.got("UpdateFirmware")
    check("UpdateFirmware relayed as given (location, signature, requestId)",
          len(got) == 1 and got[0]["request_id"] == 301
          and got[0]["firmware"].get("location") == update["firmware"]["location"]
          and got[0]["firmware"].get("signature") == "c2lnbmF0dXJl", f"{got}")
    job = None
    for _ in range(60):
        st, body = await ahttp("GET", f"/api/admin/chargers/{device_id}/security-jobs",
                               token=token)
        jobs = (body or {}).get("jobs") or [] if isinstance(body, dict) else []
        job = next((j for j in jobs if j.get("requestId") == 301), None)
        if job and job.get("status") == "Installed":
            break
        await asyncio.sleep(0.1)
    history = [h[0] for h in (job or {}).get("history") or []]
    check("the update is a job that followed every FirmwareStatusNotification to Installed",
          bool(job) and job.get("status") == "Installed"
          and [h for h in history if h in FIRMWARE_STATUSES] == FIRMWARE_STATUSES,
          f"{job}; errors {cp.errors}")

    now = now_iso()
    profile = {"evseId": 0, "chargingProfile": {
        "id": 31, "stackLevel": 0, "chargingProfilePurpose": "ChargingStationMaxProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": [{
            "id": 31, "startSchedule": now, "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}]}}
    st, body, resp = await command(device_id, token, "SetChargingProfile", profile)
    check("SetChargingProfile -> 200, the station's Accepted",
          st == 200 and resp.get("status") == "Accepted", f"HTTP {st} {body}")
    got = cp.got("SetChargingProfile")
    sent = got[0]["charging_profile"] if got else {}
    check("SetChargingProfile relayed as given (id 31, 16 A from now)",
          len(got) == 1 and got[0]["evse_id"] == 0 and sent.get("id") == 31
          and sent["charging_schedule"][0]["charging_schedule_period"][0]["limit"] == 16.0,
          f"{got}")

    message = {"message": {"id": 41, "priority": "NormalCycle",
                           "message": {"format": "UTF8", "content": "Welcome to csms"}}}
    st, body, resp = await command(device_id, token, "SetDisplayMessage", message)
    check("SetDisplayMessage -> 200, the station's Accepted",
          st == 200 and resp.get("status") == "Accepted", f"HTTP {st} {body}")
    got = cp.got("SetDisplayMessage")
    check("SetDisplayMessage relayed as given (id 41, its text)",
          len(got) == 1 and got[0]["message"].get("id") == 41
          and got[0]["message"]["message"].get("content") == "Welcome to csms", f"{got}")

    install = {"certificateType": "CSMSRootCertificate", "certificate": ROOT_PEM}
    st, body, resp = await command(device_id, token, "InstallCertificate", install)
    check("InstallCertificate -> 200, the station's Accepted",
          st == 200 and resp.get("status") == "Accepted", f"HTTP {st} {body}")
    got = cp.got("InstallCertificate")
    check("InstallCertificate relayed as given (the PEM unchanged)",
          len(got) == 1 and got[0]["certificate"] == ROOT_PEM, f"{got}")
    st, body = await ahttp("GET", f"/api/admin/chargers/{device_id}/certificates", token=token)
    installed = ((body or {}).get("certificates") or {}).get("installed") or [] \
        if isinstance(body, dict) else []
    check("csms knows the root installed on the station",
          any(i.get("certificateType") == "CSMSRootCertificate"
              and (i.get("serialNumber") or "").lower().lstrip("0") == ROOT_SERIAL.lower()
              for i in installed), f"HTTP {st} {body}")


async def closing_checks(cp, device_id, token):
    hb = await cp_call(cp, "Heartbeat at the end", call.Heartbeat())
    if hb is not None:
        check("Heartbeat at the end", bool(hb.current_time), f"{hb}")
    st, body = await ahttp("GET", f"/api/admin/chargers/{device_id}/messages?limit=500",
                           token=token)
    actions = ({m.get("action") for m in body.get("messages") or []}
               if isinstance(body, dict) else set())
    want = {"BootNotification", "StatusNotification", "Heartbeat", "Authorize",
            "TransactionEvent", "MeterValues", "RequestStartTransaction",
            "RequestStopTransaction", "ReserveNow", "CancelReservation", "GetVariables",
            "SetVariables", "UpdateFirmware", "FirmwareStatusNotification", "SetChargingProfile",
            "SetDisplayMessage", "InstallCertificate"}
    check("message log has the 2.0.1 exchange", st == 200 and want <= actions,
          f"HTTP {st}, missing {sorted(want - actions)}")
    check("every CALL from csms passed the library's schema check", not cp.refused,
          f"{cp.refused}")
    others = sorted({a for a, _ in cp.received} - {
        "RequestStartTransaction", "RequestStopTransaction", "ReserveNow", "CancelReservation",
        "GetVariables", "SetVariables", "UpdateFirmware", "SetChargingProfile", "SetDisplayMessage",
        "InstallCertificate"})
    if others:
        print(f"note: csms also sent {others}", flush=True)


def main():
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The library logs a CALLERROR it sends (with a traceback) at ERROR; the check reports it.
    # INTEROP_VERBOSE=1: every frame sent and received, as the library logs it.
    verbose = os.environ.get("INTEROP_VERBOSE") == "1"
    logging.getLogger("ocpp").setLevel(logging.INFO if verbose else logging.CRITICAL)

    def on_alarm(signum, frame):
        print(f"FAIL overall timeout of {TIMEOUT:g}s (hard)", flush=True)
        base.failed += 1
        summary()
        os._exit(2)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(TIMEOUT) + 10)
    print(f"csms interop OCPP 2.0.1: ocpp {_version('ocpp')} (ocpp.v201), "
          f"websockets {websockets.__version__}, HTTP {base.HTTP}, OCPP {OCPP}", flush=True)
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
    if base.passed == 0 and base.failed == 0:
        check("ran at least one check", False)
    summary()
    sys.exit(code or (1 if base.failed else 0))


def summary():
    print(f"OCPP 2.0.1: {base.passed} passed, {base.failed} failed", flush=True)


if __name__ == "__main__":
    main()
