//! The DNS target: UDP, answers every A query with the synthetic zone's address for the
//! name ([`synthetic_address`]), after the delay a first label `d<microseconds>` asks for.
//!
//! A datagram that does not parse as a DNS message, or is not a query (a response: answering
//! it could start a loop with another server), is dropped without a reply.

use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;

use crate::workload::dns::{delay_of, synthetic_address};

pub async fn run(socket: UdpSocket) -> anyhow::Result<()> {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; 1500];
    loop {
        // A failed receive (an ICMP error queued on the socket, no memory for a moment)
        // loses that datagram, never the target.
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        let query = match Message::from_vec(&buf[..n]) {
            Ok(m) if m.message_type() == MessageType::Query => m,
            _ => continue,
        };
        let socket = socket.clone();
        tokio::spawn(async move {
            let reply = answer(&query).await;
            if let Ok(bytes) = reply.to_vec() {
                if socket.send_to(&bytes, peer).await.is_ok() {
                    super::answered();
                }
            }
        });
    }
}

async fn answer(query: &Message) -> Message {
    let mut m = Message::new();
    m.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_authoritative(true)
        .set_recursion_desired(query.recursion_desired());
    let Some(q) = query.queries().first() else {
        m.set_response_code(ResponseCode::FormErr);
        return m;
    };
    m.add_query(q.clone());
    let name = q.name().to_ascii();
    let delay = delay_of(&name);
    if !delay.is_zero() {
        let _ = super::timer::sleep(delay).await;
    }
    if q.query_type() == RecordType::A {
        let addr = synthetic_address(&name);
        m.add_answer(Record::from_rdata(q.name().clone(), 60, RData::A(A(addr))));
    }
    m
}
