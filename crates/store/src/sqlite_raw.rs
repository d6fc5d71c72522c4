//! The one place the store calls SQLite's C API directly: a prepared statement
//! stepped once per row, for bulk import (see docs/benchmarks/store.md).
//!
//! sqlx's SQLite driver has no way to re-execute one prepared statement with
//! fresh parameters cheaply (each `execute` goes through its worker thread,
//! argument buffers and statement cache); a bound-and-stepped single-row INSERT
//! costs a few microseconds. sqlx lends out the raw `sqlite3*` through
//! [`LockedSqliteHandle`], during which its worker makes no call on it.
//!
//! Invariants at this boundary (what makes the `unsafe` blocks sound):
//! - A [`Statement`] mutably borrows the [`LockedSqliteHandle`] it was prepared
//!   on, so it cannot outlive the lock, and the connection is used by one
//!   thread at a time.
//! - [`Statement::run`] binds borrowed text with `SQLITE_STATIC` (no copy) and,
//!   before it returns, steps, resets and clears every binding, so the
//!   statement never keeps a pointer into the caller's buffers.
//! - The statement is finalized on drop. Transactions are not touched here:
//!   `BEGIN`/`COMMIT`/`ROLLBACK` stay with sqlx, which sees the same connection.
//! - `libsqlite3-sys` is pinned to the version sqlx-sqlite uses, so this code
//!   links against the same (bundled) SQLite library as sqlx.

use std::ffi::{c_char, c_int, CStr};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;
use sqlx::sqlite::LockedSqliteHandle;

/// One parameter of [`Statement::run`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Text(&'a str),
    Int(i64),
}

/// An error SQLite reported: its extended result code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SqliteError {
    pub code: i32,
    pub message: String,
}

impl std::fmt::Display for SqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (SQLite code {})", self.message, self.code)
    }
}

/// A prepared statement on a locked connection; finalized on drop.
pub(crate) struct Statement<'h> {
    db: NonNull<ffi::sqlite3>,
    stmt: NonNull<ffi::sqlite3_stmt>,
    params: usize,
    /// Ties the statement to the borrow of the locked handle.
    _lock: PhantomData<&'h mut ()>,
}

impl<'h> Statement<'h> {
    /// Prepare `sql` (one statement) on the locked connection.
    pub(crate) fn prepare(handle: &'h mut LockedSqliteHandle<'_>, sql: &str) -> Result<Statement<'h>, SqliteError> {
        let db = handle.as_raw_handle();
        let len = c_int::try_from(sql.len()).map_err(|_| SqliteError { code: ffi::SQLITE_TOOBIG, message: "statement too long".into() })?;
        let mut stmt = ptr::null_mut();
        // SAFETY: `db` is a live connection that only this thread uses while the
        // lock is held; `sql` is valid for `len` bytes; `stmt` is an out-pointer.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(db.as_ptr(), sql.as_ptr().cast::<c_char>(), len, ffi::SQLITE_PREPARE_PERSISTENT, &mut stmt, ptr::null_mut())
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc));
        }
        let stmt = NonNull::new(stmt).ok_or_else(|| SqliteError { code: ffi::SQLITE_MISUSE, message: "empty statement".into() })?;
        // SAFETY: `stmt` was just prepared successfully.
        let params = unsafe { ffi::sqlite3_bind_parameter_count(stmt.as_ptr()) } as usize;
        Ok(Statement { db, stmt, params, _lock: PhantomData })
    }

    /// Bind `values` to the statement's parameters 1..=n, step it to completion
    /// (it must return no rows), and reset it for the next call.
    pub(crate) fn run(&mut self, values: &[Value<'_>]) -> Result<(), SqliteError> {
        if values.len() != self.params {
            return Err(SqliteError {
                code: ffi::SQLITE_RANGE,
                message: format!("{} values for {} parameters", values.len(), self.params),
            });
        }
        let s = self.stmt.as_ptr();
        let mut rc = ffi::SQLITE_OK;
        for (i, v) in values.iter().enumerate() {
            let at = (i + 1) as c_int;
            // SAFETY: `s` is a live statement; text is valid UTF-8 borrowed for
            // this call, and the binding is cleared below before we return.
            rc = unsafe {
                match *v {
                    Value::Int(n) => ffi::sqlite3_bind_int64(s, at, n),
                    Value::Text(t) => match c_int::try_from(t.len()) {
                        Ok(len) => ffi::sqlite3_bind_text(s, at, t.as_ptr().cast::<c_char>(), len, ffi::SQLITE_STATIC()),
                        Err(_) => ffi::SQLITE_TOOBIG,
                    },
                }
            };
            if rc != ffi::SQLITE_OK {
                break;
            }
        }
        if rc == ffi::SQLITE_OK {
            // SAFETY: as above. An INSERT without RETURNING steps straight to DONE.
            rc = match unsafe { ffi::sqlite3_step(s) } {
                ffi::SQLITE_DONE => ffi::SQLITE_OK,
                ffi::SQLITE_ROW => ffi::SQLITE_MISUSE,
                rc => rc,
            };
        }
        // Read the message before reset, which may replace it.
        let result = if rc == ffi::SQLITE_OK { Ok(()) } else { Err(error(self.db, rc)) };
        // SAFETY: `s` is live. Reset returns the step's error again (already
        // taken); clearing drops every pointer into `values`.
        unsafe {
            ffi::sqlite3_reset(s);
            ffi::sqlite3_clear_bindings(s);
        }
        result
    }
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: `stmt` is live and finalized exactly once, here.
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

/// The connection's current error, for result code `rc`.
fn error(db: NonNull<ffi::sqlite3>, rc: c_int) -> SqliteError {
    // SAFETY: `db` is live; sqlite3_errmsg returns a NUL-terminated string owned
    // by SQLite, copied here before any further call can change it.
    let (code, message) = unsafe {
        let code = ffi::sqlite3_extended_errcode(db.as_ptr());
        let msg = ffi::sqlite3_errmsg(db.as_ptr());
        let message = if msg.is_null() { String::new() } else { CStr::from_ptr(msg).to_string_lossy().into_owned() };
        (code, message)
    };
    // A binding error (TOOBIG/RANGE) is ours, not the connection's last error.
    let code = if code == ffi::SQLITE_OK { rc } else { code };
    SqliteError { code, message: if message.is_empty() || message == "not an error" { format!("SQLite error {rc}") } else { message } }
}
