"""Audio input and output: float32 ``(channels, samples)`` arrays and a sample rate.

Reading and writing goes through `soundfile` (libsndfile: wav, flac, ogg/vorbis,
mp3 and the other formats libsndfile knows, no ffmpeg needed); resampling through
`soxr` (band-limited, high quality, deterministic). Long files are read block by
block into one preallocated array and resampled channel by channel, so a one-hour
recording is never held twice in memory.

Conventions (see ``DESIGN.md``): a waveform is a ``numpy.float32`` array shaped
``(channels, samples)``; mono is the mean of the channels, kept 2-D as ``(1, samples)``.

Reliability notes:

- **Truncated WAV/AIFF files** are an :class:`~xmtag.errors.AudioError`. libsndfile quietly
  decodes the part of a data chunk that is there, so :func:`load_audio` reads the chunk sizes
  of RIFF/RF64/AIFF headers itself (a few bytes, hand-written because no library exposes
  "declared versus present") and refuses a data chunk shorter than its header says.
- **Encoding is interrupt-safe.** :func:`encode_audio` and :func:`save_audio` let libsndfile
  write a real file by path (never a Python file object, whose cffi write callbacks swallow
  ``KeyboardInterrupt`` and leave a truncated result that looks complete); Ctrl-C raises
  ``KeyboardInterrupt`` and nothing is left under the final name.
- **MP3 is mono or stereo**: more channels (5.1 and 7.1 stems) are downmixed with
  :func:`to_stereo` before MP3 encoding.
"""

from ._read import AudioStream, audio_info, load_audio, stream_audio
from ._signal import check_waveform, resample, to_mono, to_stereo
from ._write import (
    DEFAULT_SUBTYPES,
    ENCODE_FORMATS,
    MAX_CHANNELS,
    MP3_RATES,
    encode_audio,
    encode_blocks,
    save_audio,
    save_blocks,
)

__all__ = [
    "load_audio",
    "stream_audio",
    "AudioStream",
    "audio_info",
    "save_audio",
    "save_blocks",
    "encode_audio",
    "encode_blocks",
    "ENCODE_FORMATS",
    "DEFAULT_SUBTYPES",
    "MP3_RATES",
    "MAX_CHANNELS",
    "resample",
    "to_mono",
    "to_stereo",
    "check_waveform",
]
