//! What the AWS clients (Route53 for DNS, EC2 for Elastic IPs) share: the SDK's config
//! from the standard chain (environment, profile, `AWS_ENDPOINT_URL` for an emulator)
//! on one HTTPS client, and errors that say what the service answered.

/// The SDK's config loader, on rustls with ring, the crypto the SSH transport already
/// builds (docs/decisions.md: the AWS SDK's TLS).
pub(crate) fn config_loader() -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http)
}

/// An SDK error with its source chain: the SDK's Display is terse, the chain says what
/// the service answered.
pub(crate) fn error(what: &str, e: impl std::error::Error) -> String {
    let mut text = format!("{what}: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}
