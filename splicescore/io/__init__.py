"""Input and output at the edges: VCF/TSV/BGZF, the reference FASTA, gene annotation (GTF/GFF3 and
its compiled index), Keras HDF5 weight files."""
