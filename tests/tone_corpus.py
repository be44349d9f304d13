"""The tone corpus moved to tests/e2e_util.py (make_corpus, synth, write_wav). This name stays
only for tests/cluster/cluster_test.py and tests/cluster/slurm_nodes_test.sh, which import it;
new code imports e2e_util. Remove once those two do."""
from e2e_util import LETTERS, RATE, make_corpus, synth, write_wav

__all__ = ["LETTERS", "RATE", "make_corpus", "synth", "write_wav"]
