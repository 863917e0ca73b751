"""Data: the UCF-101 index, video decoding and keyframes, the frame cache, the demo dataset.

:class:`UCF101` (``harlab.data.UCF101``) reads the dataset exactly as released; see
:mod:`~harlab.data.ucf101`, :mod:`~harlab.data.video`, :mod:`~harlab.data.framecache` and
:mod:`~harlab.data.demo_data`.
"""

from harlab.data.ucf101 import UCF101, VideoItem

__all__ = ["UCF101", "VideoItem"]
