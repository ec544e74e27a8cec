//! A reader that knows its offset in the file and turns short reads into [`Error::Truncated`].

use std::io::{self, Read};

use crate::error::{Error, Part};

pub(crate) struct Source<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R, offset: u64) -> Source<R> {
        Source { inner, offset }
    }

    /// Where the next byte comes from.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    /// After the caller moved `inner` (a seek).
    pub(crate) fn set_offset(&mut self, offset: u64) {
        self.offset = offset;
    }

    pub(crate) fn read_exact(&mut self, buf: &mut [u8], part: Part) -> Result<(), Error> {
        let mut filled = 0;
        while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
            match self.read_some(rest)? {
                0 => return Err(Error::Truncated { offset: self.offset, part }),
                n => filled += n,
            }
        }
        Ok(())
    }

    pub(crate) fn read_array<const N: usize>(&mut self, part: Part) -> Result<[u8; N], Error> {
        let mut b = [0; N];
        self.read_exact(&mut b, part)?;
        Ok(b)
    }

    pub(crate) fn read_byte(&mut self, part: Part) -> Result<u8, Error> {
        self.read_array::<1>(part).map(|[b]| b)
    }

    /// Whether the file ends here.
    pub(crate) fn at_end(&mut self) -> Result<bool, Error> {
        Ok(self.read_some(&mut [0])? == 0)
    }

    /// One `read`, retried on `Interrupted`; never trusts the reader to stay within `buf`.
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    let n = n.min(buf.len());
                    self.offset = self.offset.saturating_add(n as u64);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(Error::Io { offset: self.offset, source }),
            }
        }
    }
}

/// Reads at most `left` bytes of a [`Source`] for the LZ4 frame decoder, and remembers why
/// it stopped, so that a failure of the frame decoder can be told apart from one of the file
/// (ended, unreadable) or of the frame being too long.
pub(crate) struct Limited<'a, R> {
    src: &'a mut Source<R>,
    left: u64,
    pub(crate) stop: Option<Stop>,
}

pub(crate) enum Stop {
    Limit,
    End,
    Failed(Error),
}

impl<'a, R: Read> Limited<'a, R> {
    pub(crate) fn new(src: &'a mut Source<R>, left: u64) -> Limited<'a, R> {
        Limited { src, left, stop: None }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.src.offset()
    }
}

impl<R: Read> Read for Limited<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            self.stop = Some(Stop::Limit);
            return Ok(0);
        }
        let want = usize::try_from(self.left).unwrap_or(usize::MAX).min(buf.len());
        let Some(buf) = buf.get_mut(..want) else { return Ok(0) };
        match self.src.read_some(buf) {
            Ok(0) => {
                self.stop = Some(Stop::End);
                Ok(0)
            }
            Ok(n) => {
                self.left = self.left.saturating_sub(n as u64);
                Ok(n)
            }
            Err(e) => {
                self.stop = Some(Stop::Failed(e));
                Err(io::Error::other("the LTX file could not be read"))
            }
        }
    }
}
