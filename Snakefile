"""mmcrl study: synthesize → train → recover → evaluate → aggregate → figures → HTML report.

Run `snakemake` (the default profile in profiles/default is picked up automatically). The config is validated
before any job starts; see workflow/schemas/config.schema.yaml for every key.
"""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


# One BLAS/OpenMP thread per job: Snakemake runs jobs in parallel, one per core.
shell.prefix("export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1; ")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/synthesize.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/recover.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/dvc.smk"


localrules:
    all,
    aggregate,
    figures,
    factor_figure,
    sample_grid,


rule all:
    input:
        TABLES,
        [path for experiment in config["experiments"] for path in figure_files(experiment)],
        sample_grid_files(),
