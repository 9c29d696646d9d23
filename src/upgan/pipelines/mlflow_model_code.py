"""The code MLflow runs to load a cell's model (models from code: nothing is unpickled)."""

from mlflow.models import set_model

from upgan.pipelines.mlflow_model import CellModel

set_model(CellModel())
