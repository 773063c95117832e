"""``python -m osvos``."""
import os
import sys

from .cli import main  # imports no TensorFlow yet: the setting below is in place when the model loads

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.exit(main())
