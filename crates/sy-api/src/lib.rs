//! Wire types of Switchyard's HTTP API: the chat-completion request with OpenRouter's routing
//! fields, usage, and the error body of SPEC §4.5. Pure: no IO, no async.

mod error;
mod request;
mod usage;

pub use error::{ApiError, ErrorBody};
pub use request::{
    parse_chat_request, ChatRequest, DataCollection, MaxPrice, Partition, ProviderPrefs, SortBy,
    SortSpec,
};
pub use usage::Usage;
