//! A real `nats-server` with JetStream for the NATS tests: on a free
//! loopback port, its store in a temp dir, stopped when dropped. No mocks.
//! A machine without `nats-server` fails these tests with a message saying
//! how to install it (CI installs it).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
    extra: Vec<String>,
}

fn binary() -> PathBuf {
    for candidate in ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("nats-server"))
        .find(|path| path.exists());
    found.unwrap_or_else(|| {
        panic!("the NATS tests need nats-server: install it (apt-get install nats-server), as .ci/run does")
    })
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl NatsServer {
    pub fn start() -> NatsServer {
        NatsServer::start_with(&[])
    }

    /// With more `nats-server` flags (`--auth TOKEN`).
    pub fn start_with(extra: &[&str]) -> NatsServer {
        let mut server = NatsServer {
            child: None,
            port: free_port(),
            store: tempfile::tempdir().unwrap(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.launch();
        server
    }

    fn launch(&mut self) {
        let child = Command::new(binary())
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.store.path())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on {} within 10 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGTERM, as a service manager would) and starts it
    /// again on the same port with the same store.
    pub fn restart(&mut self, down_for: Duration) {
        self.stop();
        std::thread::sleep(down_for);
        self.launch();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
                rustix::process::Signal::TERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn block_on<T>(&self, job: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(job)
    }

    /// Creates a stream taking `homelab.events.>`, file storage.
    pub fn create_stream(&self, name: &str) {
        self.block_on(async {
            let client = async_nats::connect(self.url()).await.unwrap();
            let js = async_nats::jetstream::new(client);
            js.create_stream(async_nats::jetstream::stream::Config {
                name: name.to_string(),
                subjects: vec!["homelab.events.>".to_string()],
                storage: async_nats::jetstream::stream::StorageType::File,
                ..Default::default()
            })
            .await
            .unwrap();
        })
    }

    /// Publishes each payload on `subject` and waits for the stream's
    /// acknowledgement, retrying while the server is away; returns the
    /// sequences.
    pub fn publish_all(&self, subject: &str, payloads: &[String]) -> Vec<u64> {
        self.block_on(async {
            let client =
                async_nats::ConnectOptions::new().retry_on_initial_connect().connect(self.url()).await.unwrap();
            let js = async_nats::jetstream::new(client);
            let mut sequences = Vec::new();
            for payload in payloads {
                let id = serde_json::from_str::<serde_json::Value>(payload)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_string));
                loop {
                    let mut headers = async_nats::HeaderMap::new();
                    if let Some(id) = &id {
                        headers.insert("Nats-Msg-Id", id.as_str());
                    }
                    let sent = js.publish_with_headers(subject.to_string(), headers, payload.clone().into()).await;
                    let acked = match sent {
                        Ok(ack) => ack.await,
                        Err(error) => Err(error),
                    };
                    match acked {
                        Ok(ack) => {
                            sequences.push(ack.sequence);
                            break;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
            sequences
        })
    }

    /// The stream's last sequence.
    pub fn last_sequence(&self, stream: &str) -> u64 {
        self.block_on(async {
            let client = async_nats::connect(self.url()).await.unwrap();
            let js = async_nats::jetstream::new(client);
            js.get_stream(stream).await.unwrap().get_info().await.unwrap().state.last_sequence
        })
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl NatsServer {
    /// Messages of `consumer` delivered and not acknowledged, and not yet delivered.
    pub fn consumer_outstanding(&self, stream: &str, consumer: &str) -> (usize, u64) {
        self.block_on(async {
            let client = async_nats::connect(self.url()).await.unwrap();
            let js = async_nats::jetstream::new(client);
            let stream = js.get_stream(stream).await.unwrap();
            let mut consumer: async_nats::jetstream::consumer::PullConsumer =
                stream.get_consumer(consumer).await.unwrap();
            let info = consumer.info().await.unwrap();
            (info.num_ack_pending, info.num_pending)
        })
    }
}
