"""Developer tools of nnlite (not part of the learner-facing API).

Owns: ``ptxlint`` — compile every CUDA kernel to PTX and check it for float64.
"""
