"""gensim 4.2 Word2Vec (skip-gram, negative sampling): the item2vec peer.

Reads the same sequence file as `bench_embed sgns` (one sequence of item ids
per line), trains with the same parameters, writes word2vec text vectors and
prints one JSON line. The timed part is model.train() only (the vocabulary
is built before), like junco's training-loop time.
  gensim_w2v.py CORPUS OUTVECS DIM WINDOW NEG EPOCHS MIN_COUNT SAMPLE THREADS SEED
"""
import json
import sys
import time

import gensim
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

corpus, out = sys.argv[1], sys.argv[2]
dim, window, neg, epochs, min_count = (int(x) for x in sys.argv[3:8])
sample = float(sys.argv[8])
threads, seed = int(sys.argv[9]), int(sys.argv[10])
sents = list(LineSentence(corpus))  # in memory, as junco holds its corpus
m = Word2Vec(vector_size=dim, window=window, negative=neg, hs=0, sg=1, min_count=min_count,
             sample=sample, alpha=0.025, min_alpha=0.0001, ns_exponent=0.75,
             workers=threads, seed=seed)
m.build_vocab(sents)
retained = int(sum(m.wv.get_vecattr(w, "count") for w in m.wv.index_to_key))
t0 = time.perf_counter()
m.train(sents, total_examples=m.corpus_count, epochs=epochs)
dt = time.perf_counter() - t0
m.wv.save_word2vec_format(out)
print(json.dumps({"impl": "gensim", "version": gensim.__version__, "threads": threads,
                  "words": retained * epochs, "seconds": dt,
                  "words_per_sec": retained * epochs / dt, "vocab": len(m.wv)}))
