//! One task per connected charger (the "connection" layer of mini-redis): reads frames, answers the
//! charger's CALLs through the handlers, and sends the central system's CALLs one at a time.

use std::sync::Arc;
use std::time::Duration;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::protocol::frame::{ErrorCode, Frame, OcppError};
use crate::protocol::registry::{CallFailure, ChargerCtx, Command, LastFrame};
use crate::protocol::schemas::Kind;
use crate::protocol::version::Version;
use crate::protocol::{ocpp16, ocpp201};
use crate::state::State;

struct InFlight {
    id: String,
    action: String,
    started: Instant,
    deadline: Instant,
    reply: oneshot::Sender<Result<Value, CallFailure>>,
}

type Sink<S> = futures_util::stream::SplitSink<WebSocketStream<S>, Message>;

/// CALLs of one charger waiting to be handled. OCPP-J lets a charger have one CALL in flight; a
/// charger that sends more is not read from (TCP back-pressure) once this many wait.
const MAX_QUEUED_CALLS: usize = 8;

type Handling = Pin<Box<dyn Future<Output = (String, String, Result<Value, OcppError>)> + Send>>;

struct Out<'a, S> {
    sink: Sink<S>,
    state: &'a State,
    ctx: &'a ChargerCtx,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Out<'_, S> {
    async fn send(&mut self, frame: &Frame, action: Option<&str>) -> bool {
        let text = match frame {
            Frame::CallError {
                id,
                code,
                description,
                details,
            } if self.ctx.version.error_code(code) != code => Frame::CallError {
                id: id.clone(),
                code: self.ctx.version.error_code(code).to_string(),
                description: description.clone(),
                details: details.clone(),
            }
            .to_text(),
            _ => frame.to_text(),
        };
        metrics::counter!("csms_ocpp_messages_out_total", "action" => action.unwrap_or("-").to_string()).increment(1);
        self.state
            .msglog
            .record(self.ctx.charger_id, "out", frame, action, text.clone());
        self.sink.send(Message::text(text)).await.is_ok()
    }
}

const FENCED: &str = "fenced: another node holds this charger now";
const REPLACED: &str = "replaced by a new connection";
/// How long a replaced connection is still read for an answer to the call in flight.
const DRAIN: Duration = Duration::from_millis(250);
const GARBAGE: &str = "too many invalid frames";

/// Frames that are not OCPP-J at all: unparseable, binary, or an answer to no call of ours. A
/// correct charger sends none (a late answer to a call that timed out is the odd exception), and
/// most get no reply, so nothing else slows a charger that floods them: `limit` of them within
/// `window` close the connection. Only these frames touch it; the good ones pay nothing.
struct Garbage {
    limit: u32,
    window: Duration,
    count: u32,
    since: Instant,
    last: String,
}

impl Garbage {
    /// Counts one; true when the charger has now sent `limit` within the window.
    fn hit(&mut self, why: impl std::fmt::Display) -> bool {
        if self.limit == 0 {
            return false;
        }
        let now = Instant::now();
        if now.duration_since(self.since) > self.window {
            self.since = now;
            self.count = 0;
        }
        self.count += 1;
        metrics::counter!("csms_ocpp_invalid_frames_total").increment(1);
        if self.count >= self.limit {
            self.last = why.to_string();
            return true;
        }
        false
    }
}

/// Records in the background that the charger was seen now (a busy charger that sends no
/// Heartbeat: at most every [`LastFrame::PERSIST_EVERY`]; what a node shows between two writes
/// comes from memory, see `Registry::last_frame`).
fn write_seen(state: &State, charger_id: i64) {
    let db = state.db.clone();
    tokio::spawn(async move {
        let written = db
            .run(move |c| crate::domain::presence::seen(c, charger_id))
            .await;
        if let Err(e) = written {
            log::debug!("charger {charger_id}: last seen not written: {e}");
        }
    });
}

/// Runs until the socket closes, the charger goes silent, or a newer connection replaces this one.
pub(crate) async fn run<S>(
    ws: WebSocketStream<S>,
    state: State,
    ctx: ChargerCtx,
    mut commands: mpsc::Receiver<Box<Command>>,
    close: Arc<Notify>,
    epoch: Option<i64>,
) -> &'static str
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (sink, mut stream) = ws.split();
    let mut out = Out {
        sink,
        state: &state,
        ctx: &ctx,
    };
    let mut in_flight: Option<InFlight> = None;
    // The charger's CALLs are handled one at a time, in the order they arrived.
    let mut queued: VecDeque<(String, String, Value)> = VecDeque::new();
    let mut handling: Option<Handling> = None;
    let mut next_id: u64 = 0;
    let ping_every = Duration::from_secs(state.settings.ws_ping_interval_secs.max(1));
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    let mut last_heard = Instant::now();
    // `chargers.last_seen_at` was written at connect (presence).
    let mut seen_written = Instant::now();
    let mut garbage = Garbage {
        limit: state.settings.ocpp_bad_frame_limit,
        window: Duration::from_secs(state.settings.ocpp_bad_frame_window_secs.max(1)),
        count: 0,
        since: Instant::now(),
        last: String::new(),
    };
    // Another process (a cluster node, or one sharing the database) may have written this
    // charger's message log since this one last did: its first write here trims it.
    state.msglog.reconnected(ctx.charger_id);

    // Cluster mode: a node that stalled past its lease checks it still holds the charger before
    // it handles a message or sends a call for it.
    let fenced = || async {
        match (&state.cluster, epoch) {
            (Some(cluster), Some(epoch)) => cluster.fenced(&state.db, &ctx.device_id, epoch).await,
            _ => false,
        }
    };
    let reason = loop {
        if fenced().await {
            break FENCED;
        }
        if handling.is_none()
            && let Some((id, action, payload)) = queued.pop_front()
        {
            let (state, ctx2) = (state.clone(), ctx.clone());
            let act = action.clone();
            handling = Some(Box::pin(async move {
                let result = match ctx2.version {
                    Version::V16 => ocpp16::handlers::handle(state, ctx2, act, payload).await,
                    Version::V201 => ocpp201::handlers::handle(state, ctx2, act, payload).await,
                };
                (id, action, result)
            }));
        }
        let deadline = in_flight.as_ref().map(|c| c.deadline);
        tokio::select! {
            _ = close.notified() => break REPLACED,
            msg = stream.next(), if queued.len() < MAX_QUEUED_CALLS => {
                let msg = match msg {
                    None => break "closed by the charger",
                    Some(Err(e)) => { log::debug!("{}: read error {e}", ctx.device_id); break "connection error" }
                    Some(Ok(m)) => m,
                };
                last_heard = Instant::now();
                ctx.last_frame.touch();
                let text = match msg {
                    Message::Text(t) => t.to_string(),
                    Message::Close(_) => break "closed by the charger",
                    Message::Binary(_) => {
                        if garbage.hit("a binary frame") { break GARBAGE }
                        let e = OcppError::new(ErrorCode::FormationViolation, "OCPP-J frames are text");
                        if !out.send(&Frame::error("-1", &e), None).await { break "connection error" }
                        continue;
                    }
                    _ => continue, // ping/pong: tungstenite answers pings itself
                };
                match Frame::parse(&text) {
                    Err(bad) => {
                        log::warn!("{}: bad frame: {}", ctx.device_id, bad.error);
                        metrics::counter!("csms_ocpp_messages_in_total", "action" => "-").increment(1);
                        state.msglog.record_raw(ctx.charger_id, "in", 0, bad.id.clone().unwrap_or_default(), None, text);
                        if garbage.hit(format_args!("an unparseable frame: {}", bad.error)) { break GARBAGE }
                        if bad.is_answer() {
                            // OCPP-J: a CALLRESULT or CALLERROR is never answered, not even a broken one.
                            continue;
                        }
                        let id = bad.id.unwrap_or_else(|| "-1".to_string());
                        if !out.send(&Frame::error(id, &bad.error), None).await { break "connection error" }
                    }
                    Ok(frame) => {
                        let action = match &frame {
                            Frame::Call { action, .. } => Some(action.clone()),
                            _ => in_flight.as_ref().filter(|c| c.id == frame.id()).map(|c| c.action.clone()),
                        };
                        metrics::counter!("csms_ocpp_messages_in_total", "action" => action.clone().unwrap_or_else(|| "-".into())).increment(1);
                        state.msglog.record(ctx.charger_id, "in", &frame, action.as_deref(), text);
                        if matches!(&frame, Frame::Call { action, .. } if action == "Heartbeat") {
                            seen_written = last_heard; // a Heartbeat writes it anyway
                        } else if last_heard.duration_since(seen_written) >= LastFrame::PERSIST_EVERY {
                            seen_written = last_heard;
                            write_seen(&state, ctx.charger_id);
                        }
                        match frame {
                            Frame::Call { id, action, payload } => match check_call(ctx.version, &action, &payload) {
                                Err(e) => {
                                    if !out.send(&Frame::error(id, &e), Some(&action)).await { break "connection error" }
                                }
                                Ok(()) => queued.push_back((id, action, payload)),
                            },
                            Frame::CallResult { id, payload } => {
                                if !answer(&ctx, &mut in_flight, &id, Ok(payload)) && garbage.hit("an answer to no call") { break GARBAGE }
                            }
                            Frame::CallError { id, code, description, .. } => {
                                if !answer(&ctx, &mut in_flight, &id, Err(CallFailure::CallError { code, description }))
                                    && garbage.hit("an error answer to no call") { break GARBAGE }
                            }
                        }
                    }
                }
            }
            Some((id, action, result)) = futures_util::future::OptionFuture::from(handling.as_mut()), if handling.is_some() => {
                handling = None;
                let frame = match result {
                    Ok(payload) => {
                        if cfg!(debug_assertions)
                            && let Err(e) = ctx.version.schemas().validate(&action, Kind::Response, &payload) {
                                log::error!("{}: our {action} response breaks the schema: {e}", ctx.device_id);
                            }
                        Frame::CallResult { id, payload }
                    }
                    Err(e) => Frame::error(id, &e),
                };
                if !out.send(&frame, Some(&action)).await { break "connection error" }
            }
            // A CALL of ours goes out only between the charger's CALLs, never before the answer to
            // the one being handled (a RemoteStopTransaction must not overtake the
            // StartTransaction answer that tells the charger its transactionId).
            Some(cmd) = commands.recv(), if in_flight.is_none() && handling.is_none() && queued.is_empty() => {
                let cmd = *cmd;
                if cmd.reply.is_closed() { continue } // its caller gave up while it was queued
                if fenced().await {
                    let _ = cmd.reply.send(Err(CallFailure::Offline));
                    break FENCED;
                }
                next_id += 1;
                let id = next_id.to_string();
                let frame = Frame::call(id.clone(), cmd.action.clone(), cmd.payload);
                let now = Instant::now();
                if !out.send(&frame, Some(&cmd.action)).await {
                    let _ = cmd.reply.send(Err(CallFailure::Disconnected));
                    break "connection error";
                }
                in_flight = Some(InFlight { id, action: cmd.action, started: now, deadline: now + cmd.timeout, reply: cmd.reply });
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                if let Some(call) = in_flight.take() {
                    log::warn!("{}: no answer to {} within its timeout", ctx.device_id, call.action);
                    let _ = call.reply.send(Err(CallFailure::Timeout));
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > ping_every * 2 {
                    break "silent for two ping intervals";
                }
                if out.sink.send(Message::Ping(Vec::new().into())).await.is_err() { break "connection error" }
            }
        }
    };

    // A newer connection replaced this one while an answer to our call may already sit in this
    // socket (a charger that accepts ChangeConfiguration AuthorizationKey and reconnects at once
    // with the new password): what arrived before the close still counts.
    if reason == REPLACED && in_flight.is_some() {
        drain_answers(&mut stream, &state, &ctx, &mut in_flight).await;
    }
    if let Some(call) = in_flight.take() {
        let _ = call.reply.send(Err(CallFailure::Disconnected));
    }
    commands.close();
    while let Ok(cmd) = commands.try_recv() {
        let _ = cmd.reply.send(Err(CallFailure::Disconnected));
    }
    if reason == GARBAGE {
        let info = format!(
            "{} frames that are not OCPP-J within {} s (the last: {}): disconnected",
            garbage.count,
            garbage.window.as_secs(),
            garbage.last
        );
        log::warn!("{}: {info}", ctx.device_id);
        let _ = out
            .sink
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::Policy,
                reason: "too many invalid frames".into(),
            })))
            .await;
        let id = ctx.charger_id;
        let recorded = state
            .db
            .run(move |c| {
                use crate::domain::security_events::{INVALID_MESSAGES, record_throttled};
                record_throttled(c, id, INVALID_MESSAGES, &info)
            })
            .await;
        if let Err(e) = recorded {
            log::warn!("{}: security event not recorded: {e}", ctx.device_id);
        }
    }
    let _ = out.sink.close().await;
    reason
}

/// Reads what the charger already sent on a replaced connection (for at most [`DRAIN`]) and hands
/// an answer to the call in flight; anything else is logged and left (the newer connection carries
/// the conversation on).
async fn drain_answers<R>(
    stream: &mut R,
    state: &State,
    ctx: &ChargerCtx,
    in_flight: &mut Option<InFlight>,
) where
    R: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let until = Instant::now() + DRAIN;
    while in_flight.is_some() {
        let Ok(Some(Ok(Message::Text(text)))) = tokio::time::timeout_at(until, stream.next()).await
        else {
            return;
        };
        let Ok(frame) = Frame::parse(text.as_str()) else {
            continue;
        };
        let action = in_flight
            .as_ref()
            .filter(|c| c.id == frame.id())
            .map(|c| c.action.clone());
        state.msglog.record(
            ctx.charger_id,
            "in",
            &frame,
            action.as_deref(),
            text.to_string(),
        );
        match frame {
            Frame::CallResult { id, payload } => {
                answer(ctx, in_flight, &id, Ok(payload));
            }
            Frame::CallError {
                id,
                code,
                description,
                ..
            } => {
                answer(
                    ctx,
                    in_flight,
                    &id,
                    Err(CallFailure::CallError { code, description }),
                );
            }
            Frame::Call { action, .. } => log::info!(
                "{}: {action} on a replaced connection: left to the new one",
                ctx.device_id
            ),
        }
    }
}

fn check_call(version: Version, action: &str, payload: &Value) -> Result<(), OcppError> {
    let s = version.schemas();
    if !s.knows(action) {
        return Err(OcppError::new(
            ErrorCode::NotImplemented,
            format!("Unknown action {action}"),
        ));
    }
    if !version.sent_by_station(action) {
        return Err(OcppError::new(
            ErrorCode::NotSupported,
            format!("{action} is sent by the central system, not by a charge point"),
        ));
    }
    s.validate(action, Kind::Request, payload)
}

/// Hands a charger's answer to the call waiting for it; false when no call of ours has that id.
fn answer(
    ctx: &ChargerCtx,
    in_flight: &mut Option<InFlight>,
    id: &str,
    result: Result<Value, CallFailure>,
) -> bool {
    match in_flight.take() {
        Some(call) if call.id == id => {
            metrics::histogram!("csms_ocpp_call_duration_seconds", "action" => call.action.clone())
                .record(call.started.elapsed().as_secs_f64());
            if let Ok(payload) = &result
                && let Err(e) =
                    ctx.version
                        .schemas()
                        .validate(&call.action, Kind::Response, payload)
            {
                log::warn!(
                    "{}: {} answer does not match the schema: {e}",
                    ctx.device_id,
                    call.action
                );
            }
            let _ = call.reply.send(result);
            true
        }
        other => {
            log::warn!("{}: answer to unknown message id {id}", ctx.device_id);
            *in_flight = other;
            false
        }
    }
}
