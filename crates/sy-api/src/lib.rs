//! The gateway's own currency, shared by every dialect (inbound API) and protocol (upstream
//! wire): the typed request (`Request`, `Conversation`) with OpenRouter's routing fields, the
//! typed answer (`Event`), usage, the resume bookkeeping of a broken stream, and the error of
//! SPEC §4.5. Pure: no IO, no async.

mod conv;
mod embed;
mod error;
mod event;
mod prefs;
mod request;
pub mod resume;
mod usage;

pub use conv::{
    Conversation, Media, OutputFormat, Params, Part, Reasoning, Role, Tool, ToolChoice, Turn,
};
pub use embed::{EmbedInput, EmbedRequest, Encoding};
pub use error::{ApiError, ErrorBody};
pub use event::{Event, Finish, Frame, RawFrame, UpstreamError, UpstreamUsage};
pub use prefs::{
    field_error, lift_routing, parse_provider_prefs, string_list, DataCollection, MaxPrice,
    Partition, ProviderPrefs, Routing, SortBy, SortSpec,
};
pub use request::{Family, Request, MAX_COMPLETION_TOKENS, RESPONSES_ISSUER};
pub use usage::Usage;
