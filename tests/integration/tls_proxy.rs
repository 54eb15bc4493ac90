//! A TLS-terminating proxy on loopback: HTTPS in front of a plain-HTTP store (Garage), with
//! a certificate from a test CA. Its own thread and runtime, stopped when dropped.

use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::loopback::LoopbackServer;

pub struct TlsProxy {
    pub port: u16,
    _server: LoopbackServer,
}

impl TlsProxy {
    /// HTTPS on 127.0.0.1:`port` (certificate `cert`, key `key`) to http://127.0.0.1:`upstream`.
    pub fn start(upstream: u16, cert: &Path, key: &Path) -> TlsProxy {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .expect("read proxy certificate")
            .collect::<Result<_, _>>()
            .expect("parse proxy certificate");
        let key = PrivateKeyDer::from_pem_file(key).expect("read proxy key");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("proxy certificate and key");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let server = LoopbackServer::start(move |client| serve(client, acceptor.clone(), upstream));
        TlsProxy {
            port: server.port,
            _server: server,
        }
    }
}

async fn serve(client: TcpStream, acceptor: tokio_rustls::TlsAcceptor, upstream: u16) {
    // A client that refuses our certificate ends the handshake: nothing to forward.
    let Ok(mut tls) = acceptor.accept(client).await else {
        return;
    };
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
}
