//! PartiQL: ExecuteStatement, BatchExecuteStatement and ExecuteTransaction.
