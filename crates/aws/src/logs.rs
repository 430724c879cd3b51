//! What may reach a log. At TRACE the SDK writes whole HTTP requests and responses: CreateStack's
//! body with every parameter value, a resolved secret among them, and DescribeStacks' answer;
//! and the Lambda runtime writes each raw event, an execution input among them. So their TRACE
//! events are dropped whatever `RUST_LOG` asks; DEBUG and above carry no body.

/// False for the events no log may carry: the TRACE events of the AWS SDK, its HTTP stack and
/// the Lambda runtime.
pub fn loggable(metadata: &tracing::Metadata<'_>) -> bool {
    const BODIES: [&str; 5] = ["aws_", "hyper", "h2", "rustls", "lambda_runtime"];
    !(*metadata.level() == tracing::Level::TRACE
        && BODIES.iter().any(|prefix| metadata.target().starts_with(prefix)))
}
