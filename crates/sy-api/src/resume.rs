//! Resuming a stream broken after its first content (SPEC §4.3): what the client already has
//! (`Delivered`), how the next endpoint is asked to continue (`Mode`), and the splice that keeps
//! only the new part of a regenerated answer (`Splice`). Works on typed events, so a stream
//! broken in one protocol continues in another.
//!
//! Invariants: the client never receives a tool call twice, or a tool call's arguments out of
//! order; text the client has is never sent again; a continuation that says something else than
//! what was delivered is refused (`Diverged`) before any of it reaches the client.

use crate::Event;

/// A tool call the client has (all or part of).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredTool {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// What the client has of the answer so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    pub text: String,
    /// In the client's order (their index is the position).
    pub tools: Vec<DeliveredTool>,
    /// Whether any reasoning reached the client.
    pub reasoning: bool,
}

impl Delivered {
    /// Notes an event that reached the client.
    pub fn note(&mut self, ev: &Event) {
        match ev {
            Event::Text(t) => self.text.push_str(t),
            Event::Reasoning(_) | Event::EncryptedReasoning(_) => self.reasoning = true,
            Event::ToolStart { index, id, name } => {
                let i = *index as usize;
                if self.tools.len() <= i {
                    self.tools.resize_with(i + 1, || DeliveredTool {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    });
                }
                self.tools[i].id.clone_from(id);
                self.tools[i].name.clone_from(name);
            }
            Event::ToolArgs { index, delta } => {
                if let Some(t) = self.tools.get_mut(*index as usize) {
                    t.arguments.push_str(delta);
                }
            }
            _ => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.tools.is_empty() && !self.reasoning
    }

    /// How an endpoint continues: with the delivered text as a prefill where it accepts one and
    /// only text was delivered, else by regenerating the whole answer (spliced).
    pub fn mode(&self, supports_prefill: bool) -> Mode {
        if supports_prefill && self.tools.is_empty() && !self.text.trim().is_empty() {
            Mode::Prefill(self.text.clone())
        } else {
            Mode::Regenerate
        }
    }
}

/// How a continuation is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The endpoint receives the delivered text as a trailing assistant message and goes on.
    Prefill(String),
    /// The endpoint answers from the start; `Splice` drops what the client has.
    Regenerate,
}

/// The continuation said something else than what the client has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Diverged;

/// Filters a continuation's events down to what the client does not have yet, renumbering its
/// tool calls into the client's numbering.
#[derive(Debug, Clone)]
pub struct Splice {
    delivered: Delivered,
    regenerate: bool,
    /// Bytes of the delivered text the continuation has repeated (regenerate).
    text_matched: usize,
    /// The delivered tool being matched, and how much of its arguments.
    tool_at: usize,
    args_matched: usize,
    /// Continuation tool index → the client's.
    map: Vec<(u32, u32)>,
    next_index: u32,
}

impl Splice {
    pub fn new(delivered: &Delivered, mode: &Mode) -> Splice {
        Splice {
            delivered: delivered.clone(),
            regenerate: *mode == Mode::Regenerate,
            text_matched: 0,
            tool_at: 0,
            args_matched: 0,
            map: Vec::new(),
            next_index: u32::try_from(delivered.tools.len()).unwrap_or(u32::MAX),
        }
    }

    fn text_done(&self) -> bool {
        !self.regenerate || self.text_matched >= self.delivered.text.len()
    }

    fn tools_done(&self) -> bool {
        !self.regenerate || self.tool_at >= self.delivered.tools.len()
    }

    fn client_index(&self, index: u32) -> Option<u32> {
        self.map.iter().find(|(c, _)| *c == index).map(|(_, k)| *k)
    }

    /// The delivered tool `k` has been matched in full: the continuation moves past it.
    fn close_tool(&mut self, k: usize) -> Result<(), Diverged> {
        if self.tool_at == k {
            if self.args_matched != self.delivered.tools[k].arguments.len() {
                return Err(Diverged);
            }
            self.tool_at += 1;
            self.args_matched = 0;
        }
        Ok(())
    }

    /// One continuation event; what the client should get of it goes to `out`.
    pub fn push(&mut self, ev: Event, out: &mut Vec<Event>) -> Result<(), Diverged> {
        match ev {
            // reasoning after a break is the new endpoint's own: the client has the answer's
            Event::Reasoning(_) | Event::ReasoningSignature(_) | Event::EncryptedReasoning(_) => {}
            Event::Text(t) => {
                if self.text_done() {
                    if !self.tools_done() {
                        return Err(Diverged);
                    }
                    out.push(Event::Text(t));
                    return Ok(());
                }
                let rest = &self.delivered.text[self.text_matched..];
                if t.len() <= rest.len() {
                    if !rest.starts_with(&t) {
                        return Err(Diverged);
                    }
                    self.text_matched += t.len();
                } else {
                    if !t.starts_with(rest) {
                        return Err(Diverged);
                    }
                    let new = t[rest.len()..].to_owned();
                    self.text_matched = self.delivered.text.len();
                    if !self.tools_done() {
                        return Err(Diverged);
                    }
                    out.push(Event::Text(new));
                }
            }
            Event::ToolStart { index, id, name } => {
                if !self.text_done() {
                    return Err(Diverged);
                }
                // a new call: whatever delivered call was being matched is complete
                if let Some(&(_, k)) = self.map.last() {
                    if (k as usize) < self.delivered.tools.len() {
                        self.close_tool(k as usize)?;
                    }
                }
                if self.tools_done() {
                    let k = self.next_index;
                    self.next_index += 1;
                    self.map.push((index, k));
                    out.push(Event::ToolStart { index: k, id, name });
                } else {
                    let k = self.tool_at;
                    if self.delivered.tools[k].name != name {
                        return Err(Diverged);
                    }
                    self.map.push((index, u32::try_from(k).unwrap_or(u32::MAX)));
                    self.args_matched = 0;
                }
            }
            Event::ToolArgs { index, delta } => {
                let Some(k) = self.client_index(index) else {
                    return Err(Diverged); // arguments of a call that never started
                };
                let ku = k as usize;
                if ku >= self.delivered.tools.len() || ku != self.tool_at {
                    out.push(Event::ToolArgs { index: k, delta });
                    return Ok(());
                }
                let have = &self.delivered.tools[ku].arguments;
                let rest = &have[self.args_matched..];
                if delta.len() <= rest.len() {
                    if !rest.starts_with(&delta) {
                        return Err(Diverged);
                    }
                    self.args_matched += delta.len();
                } else {
                    if !delta.starts_with(rest) {
                        return Err(Diverged);
                    }
                    // only the last delivered call can still grow: the stream broke inside it
                    if ku + 1 != self.delivered.tools.len() {
                        return Err(Diverged);
                    }
                    let new = delta[rest.len()..].to_owned();
                    self.args_matched = have.len();
                    self.tool_at += 1;
                    self.args_matched = 0;
                    out.push(Event::ToolArgs {
                        index: k,
                        delta: new,
                    });
                }
            }
            Event::Finish(f) => {
                if let Some(&(_, k)) = self.map.last() {
                    if (k as usize) < self.delivered.tools.len() {
                        self.close_tool(k as usize)?;
                    }
                }
                // ended before reaching what the client already has
                if !self.text_done() || !self.tools_done() {
                    return Err(Diverged);
                }
                out.push(Event::Finish(f));
            }
            other => out.push(other),
        }
        Ok(())
    }

    /// Whether the continuation has caught up with the client (what follows is new).
    pub fn caught_up(&self) -> bool {
        self.text_done() && self.tools_done()
    }
}

#[cfg(test)]
mod tests;
