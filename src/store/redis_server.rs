//! A throw-away `redis-server` for tests: started on a free loopback port with no persistence
//! (`--save '' --appendonly no`) in a directory of its own, killed when dropped. The crate's
//! unit tests and the integration tests (`tests/common`) share this one file.
#![allow(dead_code)]

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running test server.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one and waits until it answers `PING`. Panics when `redis-server` is missing
    /// (`.ci/run` installs it) or does not come up.
    pub fn start() -> RedisServer {
        // A port can be taken between our probe and the server's bind: try a few.
        for _ in 0..5 {
            let port = free_port();
            if let Some(server) = RedisServer::start_on(port) {
                return server;
            }
        }
        panic!("redis-server did not start (is the `redis-server` package installed?)");
    }

    /// Starts one on `port` (a restart of a killed one keeps its URL); `None` if it does not
    /// come up within 5 s.
    pub fn start_on(port: u16) -> Option<RedisServer> {
        let dir = tempfile::tempdir().expect("tempdir");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", dir.path().to_str().expect("utf8 temp dir")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (the Debian package `redis-server`)");
        let mut server = RedisServer { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if server.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            if server.pings() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server at once (as a crash would), keeping its port for [`Self::start_on`].
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The value of `key` (`GET`), `None` when it has none.
    pub fn get(&self, key: &str) -> Option<String> {
        let client = ::redis::Client::open(self.url()).expect("url");
        let mut c = client.get_connection_with_timeout(Duration::from_secs(2)).expect("connect");
        ::redis::cmd("GET").arg(key).query(&mut c).expect("GET")
    }

    fn pings(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}
