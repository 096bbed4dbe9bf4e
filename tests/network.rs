//! Network workloads against targets that misbehave, are down, or stop mid-trial: every
//! wrong reply is an error, never a success, and nothing hangs.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{reason, run, run_ok};

fn echo_scenario(target: &str, extra: &str) -> String {
    format!(
        "name = \"net\"\n[run]\ntrials = 1\nwarmup = \"100ms\"\nduration = \"600ms\"\n\
         models = [\"threads\", \"smol\"]\nconcurrency = [2]\n[[workload]]\nkind = \"tcp-echo\"\n\
         payload = \"100B\"\ntimeout = \"1s\"\ntarget = \"{target}\"\n{extra}"
    )
}

/// A server that answers each 108-byte request with `reply(request)`, until `until`.
fn fake_echo(reply: fn(&mut [u8]), until: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let end = Instant::now() + until;
    thread::spawn(move || {
        while Instant::now() < end {
            match listener.accept() {
                Ok((s, _)) => {
                    thread::spawn(move || serve(s, reply, end));
                }
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
        // The listener is dropped here: new connections are refused.
    });
    addr
}

fn serve(mut s: TcpStream, reply: fn(&mut [u8]), end: Instant) {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut req = [0u8; 108];
    let mut have = 0;
    while Instant::now() < end {
        match s.read(&mut req[have..]) {
            Ok(0) => return,
            Ok(n) => have += n,
            Err(_) => continue,
        }
        if have == req.len() {
            reply(&mut req);
            if s.write_all(&req).is_err() {
                return;
            }
            have = 0;
        }
    }
    // Dropping the stream resets the worker's connection.
}

#[test]
fn a_wrong_echo_is_an_error_not_a_success() {
    let addr = fake_echo(|r| r[50] ^= 0xff, Duration::from_secs(20));
    let r = run_ok(&echo_scenario(&addr, ""), &[]);
    for rec in r.records() {
        assert_eq!(rec["status"], "failed", "{rec}");
        assert_eq!(rec["ops"], 0, "{rec}");
        assert!(rec["errors"]["mismatch"].as_u64().unwrap() > 0, "{rec}");
        assert!(reason(&rec).contains("echo differs"), "{rec}");
    }
}

#[test]
fn a_target_that_is_down_fails_the_trial_quickly_with_refused() {
    let addr = format!("127.0.0.1:{}", common::free_port());
    let started = Instant::now();
    let r = run_ok(&echo_scenario(&addr, ""), &[]);
    assert!(started.elapsed() < Duration::from_secs(20));
    for rec in r.records() {
        assert_eq!(rec["status"], "failed", "{rec}");
        assert!(reason(&rec).contains("Refused"), "{rec}");
    }
}

#[test]
fn a_target_that_stops_mid_trial_gives_errors_and_a_finished_trial() {
    // Serves through the warm-up and the first part of the 3 s window, then goes away.
    // (Far more than 1% of the ops fail: the trial is kept only with max_error_rate = 1.)
    let addr = fake_echo(|_| {}, Duration::from_millis(1500));
    let r = run_ok(
        &echo_scenario(
            &addr,
            "models = [\"threads\"]\nduration = \"3s\"\nmax_error_rate = 1.0\n",
        ),
        &[],
    );
    let rec = &r.records()[0];
    assert_eq!(
        rec["status"], "ok",
        "some ops succeeded before it stopped: {rec}"
    );
    let errors = &rec["errors"];
    let lost = ["reset", "refused", "timeout"]
        .iter()
        .map(|k| errors[k].as_u64().unwrap_or(0))
        .sum::<u64>();
    assert!(lost > 0, "{rec}");
    assert!(errors["mismatch"].is_null(), "{rec}");
}

/// An HTTP server that answers every request with `reply`.
fn fake_http(reply: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for s in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut s = s;
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while let Ok(n) = s.read(&mut chunk) {
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        if s.write_all(reply).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

fn http_scenario(target: Option<&str>, extra: &str) -> String {
    let target = target.map_or(String::new(), |t| format!("target = \"{t}\"\n"));
    format!(
        "name = \"http\"\n[run]\ntrials = 1\nwarmup = \"100ms\"\nduration = \"500ms\"\n\
         models = [\"threads\", \"tokio-current-thread\"]\nconcurrency = [2]\n[[workload]]\n\
         kind = \"http-get\"\npath = \"/ana\"\n{target}{extra}"
    )
}

#[test]
fn a_wrong_http_body_is_an_error_not_a_success() {
    let addr = fake_http(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nHello, bob");
    let r = run_ok(&http_scenario(Some(&addr), ""), &[]);
    for rec in r.records() {
        assert_eq!(rec["status"], "failed", "{rec}");
        assert!(rec["errors"]["mismatch"].as_u64().unwrap() > 0, "{rec}");
    }
    // The same server, asked for the route its body does match, is a success.
    let ok = fake_http(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nHello, ana");
    let r = run(&http_scenario(Some(&ok), ""), &[]);
    assert!(
        r.records().iter().all(|rec| rec["status"] == "ok"),
        "{:?}",
        r.records()
    );
}

#[test]
fn a_timed_out_request_is_a_timeout_error_never_a_success() {
    // The embedded server waits 1 s; the client gives up after 100 ms.
    let r = run_ok(
        &http_scenario(None, "server_delay = \"1s\"\ntimeout = \"100ms\"\n"),
        &[],
    );
    let records = r.records();
    assert_eq!(records.len(), 2);
    for rec in records {
        assert_eq!(rec["ops"], 0, "{rec}");
        assert!(rec["errors"]["timeout"].as_u64().unwrap() > 0, "{rec}");
    }
}

/// A DNS server that answers every query with 10.0.0.1, which the synthetic zone never
/// gives `www.example.test`.
fn lying_dns() -> String {
    use hickory_proto::op::{Message, MessageType};
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{RData, Record};
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut m = Message::new();
            m.set_id(q.id()).set_message_type(MessageType::Response);
            let name = q.queries()[0].name().clone();
            m.add_query(q.queries()[0].clone());
            m.add_answer(Record::from_rdata(
                name,
                60,
                RData::A(A("10.0.0.1".parse().unwrap())),
            ));
            let _ = socket.send_to(&m.to_vec().unwrap(), peer);
        }
    });
    addr
}

#[test]
fn a_dns_answer_with_the_wrong_address_is_an_error_not_a_success() {
    let toml = format!(
        "name = \"dns\"\n[run]\ntrials = 1\nwarmup = \"100ms\"\nduration = \"400ms\"\n\
         models = [\"threads\", \"async-std\"]\nconcurrency = [2]\n[[workload]]\n\
         kind = \"dns\"\ntarget = \"{}\"\n",
        lying_dns()
    );
    let r = run_ok(&toml, &[]);
    for rec in r.records() {
        assert_eq!(rec["status"], "failed", "{rec}");
        assert!(rec["errors"]["mismatch"].as_u64().unwrap() > 0, "{rec}");
    }
}

#[test]
fn an_unanswered_dns_query_is_retried_then_a_timeout() {
    // A socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let toml = format!(
        "name = \"dns\"\n[run]\ntrials = 1\nwarmup = \"0s\"\nduration = \"500ms\"\n\
         models = [\"sequential\", \"smol\"]\nconcurrency = [1]\n[[workload]]\n\
         kind = \"dns\"\ntimeout = \"50ms\"\nretries = 1\ntarget = \"{}\"\n",
        silent.local_addr().unwrap()
    );
    let r = run_ok(&toml, &[]);
    let mut received = 0;
    let mut buf = [0u8; 1500];
    silent.set_nonblocking(true).unwrap();
    while silent.recv(&mut buf).is_ok() {
        received += 1;
    }
    for rec in r.records() {
        assert_eq!(rec["ops"], 0, "{rec}");
        let timeouts = rec["errors"]["timeout"].as_u64().unwrap();
        assert!(timeouts > 0, "{rec}");
        assert!(
            rec["error_samples"]["timeout"]
                .as_str()
                .unwrap()
                .contains("2 tries"),
            "{rec}"
        );
    }
    assert!(
        received >= 4,
        "each op sends its query twice: {received} datagrams"
    );
}

#[test]
fn the_embedded_target_is_stopped_when_the_run_ends() {
    let toml = "name = \"t\"\n[run]\ntrials = 1\nwarmup = \"0s\"\nduration = \"200ms\"\n\
                models = [\"smol\"]\nconcurrency = [2]\n[[workload]]\nkind = \"tcp-echo\"\n";
    let r = run_ok(toml, &[]);
    let rec = &r.records()[0];
    assert_eq!(rec["status"], "ok", "{rec}");
    let addr = rec["cell"]["workload"]["target"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        rec["target_cpu_secs"].as_f64().unwrap() > 0.0,
        "the target worked: {rec}"
    );
    // Give the kernel a moment to tear the socket down, then nothing may answer there.
    thread::sleep(Duration::from_millis(200));
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
        "the echo target at {addr} outlived its run"
    );
}
