//! Why a call failed, the way OpenSSL reports it: a reason code for its
//! error queue (library `ERR_LIB_ASYNC`) and a diagnostic line for
//! `RUSTASYNC_LOG`. The value a failing export returns (0, NULL,
//! `ASYNC_ERR`, ...) is the export's own; see `ffi::export`.

use std::ffi::{CStr, c_int};

use crate::log::{self, Level};
use crate::openssl;

/// A failure, built at compile time by `error!`: one word, so that a
/// `Result` of the hot path still comes back in registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error(&'static Fault);

/// `error!(kind, "why")`: the `Error` that `Fault::kind("why")` describes.
macro_rules! error {
    ($kind:ident, $($arg:expr),+ $(,)?) => {
        $crate::error::Error::new(&const { $crate::error::Fault::$kind($($arg),+) })
    };
}
pub(crate) use error;

#[derive(Debug, PartialEq, Eq)]
pub struct Fault {
    /// The reason put on OpenSSL's error queue; `None` where OpenSSL
    /// queues nothing.
    reason: Option<c_int>,
    /// The diagnostic line; empty when the failure was explained already.
    why: &'static str,
}

impl Fault {
    /// A required pointer was NULL.
    pub const fn null(why: &'static str) -> Fault {
        Fault::with(openssl::ERR_R_PASSED_NULL_PARAMETER, why)
    }

    /// An argument OpenSSL would reject, or one that is not ours.
    pub const fn invalid(why: &'static str) -> Fault {
        Fault::with(openssl::ERR_R_PASSED_INVALID_ARGUMENT, why)
    }

    pub const fn no_memory(why: &'static str) -> Fault {
        Fault::with(openssl::ERR_R_MALLOC_FAILURE, why)
    }

    /// A call made when it must not be.
    pub const fn misuse(why: &'static str) -> Fault {
        Fault::with(openssl::ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED, why)
    }

    pub const fn internal(why: &'static str) -> Fault {
        Fault::with(openssl::ERR_R_INTERNAL_ERROR, why)
    }

    /// A failure OpenSSL returns without an entry on its error queue.
    pub const fn unqueued(why: &'static str) -> Fault {
        Fault { reason: None, why }
    }

    /// A failure with reason code `reason` of `ERR_LIB_ASYNC`.
    pub const fn with(reason: c_int, why: &'static str) -> Fault {
        Fault {
            reason: Some(reason),
            why,
        }
    }
}

impl Error {
    pub const fn new(fault: &'static Fault) -> Error {
        Error(fault)
    }

    /// Puts the failure of `function` on OpenSSL's error queue (when
    /// libcrypto is in the process) and on the diagnostic log.
    #[cold]
    pub fn report(self, function: &CStr) {
        let Fault { reason, why } = *self.0;
        if let Some(reason) = reason {
            openssl::raise(function, reason);
        }
        if !why.is_empty() {
            log::emit(Level::Warn, format_args!("{}: {why}", function.to_string_lossy()));
        }
    }
}
