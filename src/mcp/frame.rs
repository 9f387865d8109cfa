//! The stdio framing in front of the MCP server: every line a client sends is checked before the
//! protocol library sees it, so that each malformed message gets the JSON-RPC error it deserves,
//! with the request's `id` whenever one can be read, and nothing leaves a client waiting.
//!
//! Without it, a line that is not JSON or not UTF-8 was dropped without an answer, invalid requests
//! were answered without their `id` (a client waiting on that id never learns), and an oversized
//! request was dropped. Lines longer than [`MAX_MESSAGE`] are refused with an error and skipped
//! without being held in memory.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// The largest message accepted: far above any real request (a memory value is at most 256 KiB).
pub const MAX_MESSAGE: usize = 8 * 1024 * 1024;

/// What to do with one line from the client.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// A well-formed message: hand it to the server.
    Forward,
    /// Answer this instead (a JSON-RPC error response, or a batch of them).
    Answer(Value),
    /// Nothing to do (an empty line).
    Skip,
}

fn error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message.into() } })
}

/// The request's id when it has a valid one (a string or a number), else `null`.
fn id_of(message: &Value) -> Value {
    match message.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    }
}

/// Judges one line (without its newline).
pub fn judge(line: &[u8]) -> Verdict {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Skip;
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return Verdict::Answer(error(Value::Null, -32700, "Parse error: the message is not valid UTF-8"));
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Verdict::Answer(error(Value::Null, -32700, format!("Parse error: not JSON ({e})"))),
    };
    match &value {
        Value::Array(items) if items.is_empty() => {
            Verdict::Answer(error(Value::Null, -32600, "Invalid Request: an empty batch"))
        }
        // MCP (2025-06-18) has no batches; each request in one is answered, as a batch.
        Value::Array(items) => Verdict::Answer(Value::Array(
            items
                .iter()
                .map(|m| {
                    error(id_of(m), -32600, "Invalid Request: batches are not supported; send one message per line")
                })
                .collect(),
        )),
        Value::Object(_) => judge_object(&value),
        _ => Verdict::Answer(error(Value::Null, -32600, "Invalid Request: a message is a JSON object")),
    }
}

fn judge_object(message: &Value) -> Verdict {
    let id = id_of(message);
    let has_id = message.get("id").is_some();
    if message.get("jsonrpc") != Some(&Value::from("2.0")) {
        return answer_unless_notification(has_id, id, -32600, "Invalid Request: `jsonrpc` must be \"2.0\"");
    }
    if has_id && id.is_null() {
        return Verdict::Answer(error(Value::Null, -32600, "Invalid Request: `id` must be a string or a number"));
    }
    if let Some(params) = message.get("params")
        && !(params.is_object() || params.is_array())
    {
        return answer_unless_notification(has_id, id, -32602, "Invalid params: `params` must be an object");
    }
    match serde_json::from_value::<rmcp::model::ClientJsonRpcMessage>(message.clone()) {
        Ok(_) => Verdict::Forward,
        // A response to nothing the server asked: there is no one to tell.
        Err(_)
            if message.get("method").is_none()
                && (message.get("result").is_some() || message.get("error").is_some()) =>
        {
            Verdict::Skip
        }
        Err(e) if message.get("method").is_some_and(Value::is_string) => {
            answer_unless_notification(has_id, id, -32602, format!("Invalid params: {e}"))
        }
        Err(e) => answer_unless_notification(has_id, id, -32600, format!("Invalid Request: {e}")),
    }
}

/// A notification (no `id`) is never answered, whatever is wrong with it.
fn answer_unless_notification(has_id: bool, id: Value, code: i64, message: impl Into<String>) -> Verdict {
    if has_id { Verdict::Answer(error(id, code, message)) } else { Verdict::Skip }
}

/// The error for a line longer than [`MAX_MESSAGE`], with its id when the line's start shows one.
fn oversized(start: &[u8], length: usize) -> Value {
    let head = String::from_utf8_lossy(start);
    // `"id": 7` or `"id": "abc"` near the start: enough to tell the client which request failed.
    let id = head.find("\"id\"").and_then(|at| {
        let rest = head[at + 4..].trim_start().strip_prefix(':')?.trim_start();
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        serde_json::from_str::<Value>(rest[..end].trim()).ok().filter(|v| v.is_string() || v.is_number())
    });
    error(
        id.unwrap_or(Value::Null),
        -32600,
        format!("Invalid Request: the message is {length} bytes; at most {MAX_MESSAGE} are accepted"),
    )
}

/// Copies the client's lines from `input` to `server`, answering malformed ones on `answers`.
pub async fn filter<R, W>(input: R, mut server: W, answers: mpsc::UnboundedSender<Value>) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut length = 0;
        let mut ended = false;
        // Read one line, keeping at most MAX_MESSAGE bytes of it.
        loop {
            let buf = input.fill_buf().await?;
            if buf.is_empty() {
                ended = true;
                break;
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..i], true),
                None => (buf, false),
            };
            if line.len() < MAX_MESSAGE + 1 {
                let room = MAX_MESSAGE + 1 - line.len();
                line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            length += chunk.len();
            let used = chunk.len() + usize::from(done);
            input.consume(used);
            if done {
                break;
            }
        }
        if length > MAX_MESSAGE {
            let _ = answers.send(oversized(&line[..line.len().min(4096)], length));
        } else {
            match judge(&line) {
                Verdict::Forward => {
                    server.write_all(&line).await?;
                    server.write_all(b"\n").await?;
                    server.flush().await?;
                }
                Verdict::Answer(answer) => {
                    let _ = answers.send(answer);
                }
                Verdict::Skip => {}
            }
        }
        if ended {
            return server.shutdown().await;
        }
    }
}

/// Writes the server's lines and the filter's answers to `output`, whole lines one at a time.
pub async fn merge<R, W>(server: R, mut answers: mpsc::UnboundedReceiver<Value>, mut output: W) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut server = BufReader::new(server).lines();
    let (mut server_open, mut answers_open) = (true, true);
    loop {
        // A source that has ended is no longer polled (a closed channel would answer at once, and
        // the loop would spin until the server finished).
        let line = tokio::select! {
            line = server.next_line(), if server_open => match line? {
                Some(line) => line,
                None => { server_open = false; continue; }
            },
            answer = answers.recv(), if answers_open => match answer {
                Some(answer) => answer.to_string(),
                None => { answers_open = false; continue; }
            },
            else => return output.flush().await,
        };
        output.write_all(line.as_bytes()).await?;
        output.write_all(b"\n").await?;
        output.flush().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &str) -> Value {
        match judge(line.as_bytes()) {
            Verdict::Answer(v) => v,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn every_malformed_message_is_answered_with_its_id_when_it_has_one() {
        let cases = [
            ("not json", Value::Null, -32700),
            ("{\"jsonrpc\":\"2.0\",\"id\":1,", Value::Null, -32700),
            ("42", Value::Null, -32600),
            ("\"text\"", Value::Null, -32600),
            ("null", Value::Null, -32600),
            ("[]", Value::Null, -32600),
            (r#"{"jsonrpc":"1.0","id":3,"method":"ping"}"#, json!(3), -32600),
            (r#"{"id":"a","method":"ping"}"#, json!("a"), -32600),
            (r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#, Value::Null, -32600),
            (r#"{"jsonrpc":"2.0","id":5}"#, json!(5), -32600),
            (r#"{"jsonrpc":"2.0","id":6,"method":7}"#, json!(6), -32600),
            (r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":"x"}"#, json!(7), -32602),
        ];
        for (line, id, code) in cases {
            let a = answer(line);
            assert_eq!(a["jsonrpc"], "2.0", "{line}");
            assert_eq!(a["id"], id, "{line}: {a}");
            assert!(a.as_object().unwrap().contains_key("id"), "{line}: JSON-RPC needs the id member");
            assert_eq!(a["error"]["code"], code, "{line}: {a}");
        }
        assert_eq!(answer("\u{1}\u{2}")["error"]["code"], -32700);
        let Verdict::Answer(a) = judge(b"\xff\xfe{}") else { panic!() };
        assert_eq!(a["error"]["code"], -32700);
        let batch = answer(r#"[{"jsonrpc":"2.0","id":2,"method":"ping"},{"jsonrpc":"2.0","id":"b","method":"ping"}]"#);
        assert_eq!(batch[0]["id"], 2);
        assert_eq!(batch[1]["id"], "b");
    }

    #[test]
    fn good_messages_pass_and_notifications_are_never_answered() {
        for line in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":"x","method":"tools/list","params":{}}"#,
        ] {
            assert_eq!(judge(line.as_bytes()), Verdict::Forward, "{line}");
        }
        for line in ["", "  ", r#"{"jsonrpc":"2.0","method":"x","params":5}"#] {
            assert_eq!(judge(line.as_bytes()), Verdict::Skip, "{line}");
        }
    }

    #[test]
    fn an_oversized_message_is_refused_with_its_id() {
        let a = oversized(br#"{"jsonrpc":"2.0","id": 42, "method":"tools/call","params":{"#, MAX_MESSAGE + 1);
        assert_eq!(a["id"], 42);
        assert_eq!(a["error"]["code"], -32600);
        assert_eq!(oversized(b"xxxx", MAX_MESSAGE + 1)["id"], Value::Null);
    }
}
