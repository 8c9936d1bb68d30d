//! Placeholder until the simulator lands.
pub const APPID: &str = "wxsandbox";
pub const SECRET: &str = "sandbox-secret";
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub audit_delay: std::time::Duration,
    pub token_ttl: u64,
    pub latency_ms: u64,
    pub fail_rate: f64,
    pub fail_code: i64,
}
pub struct Sandbox {
    addr: std::net::SocketAddr,
}
impl Sandbox {
    pub async fn start(_cfg: Config, port: u16) -> std::io::Result<Sandbox> {
        let l = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        Ok(Sandbox { addr: l.local_addr()? })
    }
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
