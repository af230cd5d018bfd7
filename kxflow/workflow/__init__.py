"""The record of an application that every feature reads: its stages, the trigger table and machine, the
guard registry, the models and who may see what. It imports no feature; features register with it."""
