//! OpenAI chat completions (SPEC §4.1, §4.4): `chat.completion` bodies and
//! `chat.completion.chunk` streams ending `data: [DONE]`, every chunk naming the model and
//! provider, the last one carrying `usage` with `cost`.

mod aggregate;
mod parse;
mod render;

use sy_api::{ApiError, Family, Request};

pub use aggregate::Aggregate;
pub(crate) use parse::format_of_family;

use crate::{Dialect, Render};

/// The chat-completions dialect.
pub struct Chat;

impl Dialect for Chat {
    fn family(&self) -> Family {
        Family::Chat
    }

    fn parse(&self, body: &[u8], _headers: &[(&str, &str)]) -> Result<Request, ApiError> {
        parse::parse(body)
    }

    fn render(&self, stream: bool) -> Box<dyn Render> {
        Box::new(render::ChatRender::new(stream))
    }

    fn error_body(&self, err: &ApiError) -> Vec<u8> {
        err.to_json()
    }
}
