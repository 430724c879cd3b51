//! What may reach a log. At TRACE the SDK writes whole HTTP requests and responses: CreateStack's
//! body with every parameter value, a resolved secret among them, and DescribeStacks' answer. So
//! the SDK's TRACE events are dropped whatever `RUST_LOG` asks; its DEBUG and above carry no body.

/// False for the events no log may carry: the AWS SDK's (and its HTTP stack's) TRACE events.
pub fn loggable(metadata: &tracing::Metadata<'_>) -> bool {
    const SDK: [&str; 4] = ["aws_", "hyper", "h2", "rustls"];
    !(*metadata.level() == tracing::Level::TRACE
        && SDK.iter().any(|prefix| metadata.target().starts_with(prefix)))
}
