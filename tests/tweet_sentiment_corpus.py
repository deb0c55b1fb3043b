"""Learner-style solutions of tweet_sentiment, as learners of the original Trax course write them.

Each entry of CORPUS is one learner's notebook: {solution grade_id: the answer cell's code}, all eight
exercises, correct, written with that learner's habits (from the Coursera course "Natural Language
Processing with Attention Models", C3W1 "Sentiment with Deep Neural Networks", and its learners' usual
variations): `np` or `jnp`, `np` rebound to JAX's NumPy as in Trax's notebooks (`import
trax.fastmath.numpy as np`), a `mode='train'` parameter, `compute_accuracy=compute_accuracy` as a default
argument, `float(...)` or not, loops or vectorised code, a 0-d array returned by test_model, and
`training.Loop(..., eval_tasks=eval_task)` with one EvalTask as Trax allows.

The answers of the error-analysis exercises (9 to 12) are the variants at the end of this file, handed
out in turn; three learners use their own `Dense` in `classifier`, as the release asks, the others
`tl.Dense`, as the original course did.

Each must score full marks when graded (tests/test_tweet_sentiment.py grades them all in one batch). The
code is as the learners wrote it; where a line had to change for the grader, the test says why.

PENDING: entries that need a change of course_lib that is not in this branch yet (with it they must
score full marks; without it, only the tests it names may fail).
"""
from __future__ import annotations

# The cell's given set-up, as the release has it (the learner fills the body of `while True:`).
DATA_GENERATOR_SETUP = '''def data_generator(data_pos, data_neg, batch_size, loop, vocab_dict, shuffle=False):
    \'\'\'Yields batches of padded tweets, half positive then half negative.\'\'\'
    assert batch_size % 2 == 0, f"batch_size must be even, got {batch_size}"
    n_to_take = batch_size // 2              # tweets of each class in a batch
    pos_index_lines = list(range(len(data_pos)))   # the order in which positive tweets are read
    neg_index_lines = list(range(len(data_neg)))
    if shuffle:
        rnd.shuffle(pos_index_lines)
        rnd.shuffle(neg_index_lines)
    pos_index = 0                            # position in pos_index_lines of the next positive tweet
    neg_index = 0

    while True:
'''

DATA_GENERATOR_YIELD = "        yield inputs, targets, example_weights\n"


def data_generator_cell(body: str) -> str:
    """The data_generator answer cell with the learner's loop body (indented by 8 spaces)."""
    return DATA_GENERATOR_SETUP + body.strip("\n") + "\n" + DATA_GENERATOR_YIELD


# ---------------------------------------------------------------------------------------------------
# 1. The original assignment's solution, comments and all (without its index update that skipped tweets).
CLASSIC = {
    "tweet_to_tensor_solution": '''
def tweet_to_tensor(tweet, vocab_dict, unk_token='__UNK__', verbose=False):
    ### START CODE HERE (Replace instances of 'None' with your code) ###
    # Process the tweet into a list of words
    # where only important words are kept (stop words removed)
    word_l = process_tweet(tweet)
    if verbose:
        print("List of words from the processed tweet:")
        print(word_l)
    # Initialize the list that will contain the unique integer IDs of each word
    tensor_l = []
    # Get the unique integer ID of the __UNK__ token
    unk_ID = vocab_dict[unk_token]
    if verbose:
        print(f"The unique integer ID for the unk_token is {unk_ID}")
    # for each word in the list:
    for word in word_l:
        # Get the unique integer ID.
        # If the word doesn't exist in the vocab dictionary,
        # use the unique ID for __UNK__ instead.
        word_ID = vocab_dict[word] if word in vocab_dict else unk_ID
        # Append the unique integer ID to the tensor list.
        tensor_l.append(word_ID)
    ### END CODE HERE ###
    return tensor_l
''',
    "data_generator_solution": data_generator_cell('''
        # create a batch with positive examples
        batch = []
        stop = False
        # First part: Pack n_to_take positive examples
        # Start from 0 and increment i up to n_to_take
        for i in range(n_to_take):
            # If the positive index goes past the positive dataset,
            if pos_index >= len(data_pos):
                # If loop is set to False, break once we reach the end of the dataset
                if not loop:
                    stop = True
                    break
                # If user wants to keep re-using the data, reset the index
                pos_index = 0
                if shuffle:
                    # Shuffle the index of the positive sample
                    rnd.shuffle(pos_index_lines)
            # get the tweet as pos_index
            tweet = data_pos[pos_index_lines[pos_index]]
            # convert the tweet into tensors of integers representing the processed words
            tensor = tweet_to_tensor(tweet, vocab_dict)
            # append the tensor to the batch list
            batch.append(tensor)
            # Increment pos_index by one
            pos_index = pos_index + 1
        if stop:
            break
        # Second part: Pack n_to_take negative examples
        # Using the same batch list, start from 0 and increment i up to n_to_take
        for i in range(n_to_take):
            # If the negative index goes past the negative dataset,
            if neg_index >= len(data_neg):
                # If loop is set to False, break once we reach the end of the dataset
                if not loop:
                    stop = True
                    break
                # If user wants to keep re-using the data, reset the index
                neg_index = 0
                if shuffle:
                    # Shuffle the index of the negative sample
                    rnd.shuffle(neg_index_lines)
            # get the tweet as neg_index
            tweet = data_neg[neg_index_lines[neg_index]]
            # convert the tweet into tensors of integers representing the processed words
            tensor = tweet_to_tensor(tweet, vocab_dict)
            # append the tensor to the batch list
            batch.append(tensor)
            # Increment neg_index by one
            neg_index += 1
        if stop:
            break
        # Get the max tweet length (the length of the longest tweet)
        # (you will pad all shorter tweets to have this length)
        max_len = max([len(t) for t in batch])
        # Initialize the input_l, which will
        # store the padded versions of the tensors
        tensor_pad_l = []
        # Pad shorter tweets with zeros
        for tensor in batch:
            # Get the number of positions to pad for this tensor so that it will be max_len long
            n_pad = max_len - len(tensor)
            # Generate a list of zeros, with length n_pad
            pad_l = [0] * n_pad
            # concatenate the tensor and the list of padded zeros
            tensor_pad = tensor + pad_l
            # append the padded tensor to the list of padded tensors
            tensor_pad_l.append(tensor_pad)
        # convert the list of padded tensors to a numpy array
        # and store this as the model inputs
        inputs = np.array(tensor_pad_l)
        # Generate the list of targets for the positive examples (a list of ones)
        # The length is the number of positive examples in the batch
        target_pos = [1] * n_to_take
        # Generate the list of targets for the negative examples (a list of zeros)
        # The length is the number of negative examples in the batch
        target_neg = [0] * n_to_take
        # Concatenate the positve and negative targets
        target_l = target_pos + target_neg
        # Convert the target list into a numpy array
        targets = np.array(target_l)
        # Example weights: Treat all examples equally importantly.
        example_weights = np.ones_like(targets)
'''),
    "Relu_solution": '''
class Relu(tl.Layer):
    """Relu activation function implementation"""
    def forward(self, x):
        \'\'\'
        Input:
            - x (a numpy array): the input
        Output:
            - activation (numpy array): all positive or 0 version of x
        \'\'\'
        ### START CODE HERE (Replace instances of 'None' with your code) ###
        activation = jnp.maximum(x, 0)
        ### END CODE HERE ###
        return activation
''',
    "Dense_solution": '''
class Dense(tl.Layer):
    """
    A dense (fully-connected) layer.
    """
    # __init__ is implemented for you
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__()
        # Set the number of units in this layer
        self._n_units = n_units
        self._init_stdev = init_stdev

    # Please implement 'forward()'
    def forward(self, x):
        ### START CODE HERE (Replace instances of 'None' with your code) ###
        # Matrix multiply x and the weight matrix
        dense = jnp.dot(x, self.weights)
        ### END CODE HERE ###
        return dense

    # init_weights
    def init_weights_and_state(self, input_signature):
        ### START CODE HERE (Replace instances of 'None' with your code) ###
        #The input_signature has a .shape attribute that gives the shape as a tuple
        input_shape = input_signature.shape
        # Generate the weight matrix from a normal distribution,
        # and standard deviation of 'stdev'
        w = self._init_stdev * fastmath.random.normal(key=self.rng, shape=(input_shape[-1], self._n_units))
        ### END CODE HERE ###
        self.weights = w
        return self.weights
''',
    "classifier_solution": '''
def classifier(vocab_size=9088, embedding_dim=256, output_dim=2, mode='train'):
    ### START CODE HERE (Replace instances of 'None' with your code) ###
    # create embedding layer
    embed_layer = tl.Embedding(
        vocab_size=vocab_size, # Size of the vocabulary
        d_feature=embedding_dim)  # Embedding dimension

    # Create a mean layer, to create an "average" word embedding
    mean_layer = tl.Mean(axis=1)

    # Create a dense layer, one unit for each output
    dense_output_layer = tl.Dense(n_units = output_dim)

    # Create the log softmax layer (no parameters needed)
    log_softmax_layer = tl.LogSoftmax()

    # Use tl.Serial to combine all layers
    # and create the classifier
    # of type trax.layers.combinators.Serial
    model = tl.Serial(
      embed_layer, # embedding layer
      mean_layer, # mean layer
      dense_output_layer, # dense output layer
      log_softmax_layer # log softmax layer
    )
    ### END CODE HERE ###
    # return the model of type
    return model
''',
    "train_model_solution": '''
def train_model(classifier, train_task, eval_task, n_steps, output_dir):
    \'\'\'
    Input:
        classifier - the model you are building
        train_task - Training task
        eval_task - Evaluation task
        n_steps - the evaluation steps
        output_dir - folder to save your files
    Output:
        trainer -  trax trainer
    \'\'\'
    ### START CODE HERE (Replace instances of 'None' with your code) ###
    training_loop = training.Loop(
                                classifier, # The learning model
                                train_task, # The training task
                                eval_tasks=[eval_task], # The evaluation task
                                output_dir=output_dir) # The output directory

    training_loop.run(n_steps = n_steps)
    ### END CODE HERE ###
    # Return the training_loop, since it has the model.
    return training_loop
''',
    "compute_accuracy_solution": '''
def compute_accuracy(preds, y, y_weights):
    ### START CODE HERE (Replace instances of 'None' with your code) ###
    # Create an array of booleans,
    # True if the probability of positive sentiment is greater than
    # the probability of negative sentiment
    # else False
    is_pos =  preds[:, 1] > preds[:, 0]

    # convert the array of booleans into an array of np.int32
    is_pos_int = is_pos.astype(np.int32)

    # compare the array of predictions (as int32) with the target (labels) of type int32
    correct = is_pos_int == y

    # Count the sum of the weights.
    sum_weights = np.sum(y_weights)

    # convert the array of correct predictions (boolean) into an arrayof np.float32
    correct_float = correct.astype(np.float32)

    # Multiply each prediction with its corresponding weight.
    weighted_correct_float = correct_float * y_weights

    # Sum up the weighted correct predictions (of type np.float32), to go in the
    # denominator.
    weighted_num_correct = np.sum(weighted_correct_float)

    # Divide the number of weighted correct predictions by the sum of the
    # weights.
    accuracy = weighted_num_correct / sum_weights
    ### END CODE HERE ###
    return accuracy, weighted_num_correct, sum_weights
''',
    "test_model_solution": '''
def test_model(generator, model, compute_accuracy=compute_accuracy):
    \'\'\'
    Input:
        generator: an iterator instance that provides batches of inputs and targets
        model: a model instance
    Output:
        accuracy: float corresponding to the accuracy
    \'\'\'
    accuracy = 0.
    total_num_correct = 0
    total_num_pred = 0

    ### START CODE HERE (Replace instances of 'None' with your code) ###
    for batch in generator:
        # Retrieve the inputs from the batch
        inputs = batch[0]
        # Retrieve the targets (actual labels) from the batch
        targets = batch[1]
        # Retrieve the example weight.
        example_weight = batch[2]
        # Make predictions using the inputs
        pred = model(inputs)
        # Calculate accuracy for the batch by comparing its predictions and targets
        batch_accuracy, batch_num_correct, batch_num_pred = compute_accuracy(pred, targets, example_weight)
        # Update the total number of correct predictions
        # by adding the number of correct predictions from this batch
        total_num_correct += batch_num_correct
        # Update the total number of predictions
        # by adding the number of predictions made for the batch
        total_num_pred += batch_num_pred

    # Calculate accuracy over all examples
    accuracy = total_num_correct / total_num_pred
    ### END CODE HERE ###
    return accuracy
''',
}

# ---------------------------------------------------------------------------------------------------
# 2. Trax's habit: `np` is JAX's NumPy (the learner rebinds it in the Relu cell, as Trax's notebooks
#    imported trax.fastmath.numpy as np). compute_accuracy and test_model return 0-d JAX arrays.
TRAX_NP = {
    "tweet_to_tensor_solution": '''
def tweet_to_tensor(tweet, vocab_dict, unk_token='__UNK__', verbose=False):
    word_l = process_tweet(tweet)
    if verbose:
        print("List of words from the processed tweet:")
        print(word_l)
    unk_ID = vocab_dict[unk_token]
    tensor_l = [vocab_dict.get(word, unk_ID) for word in word_l]
    return tensor_l
''',
    "data_generator_solution": data_generator_cell('''
        batch = []
        for i in range(n_to_take):
            if pos_index >= len(data_pos):
                if not loop:
                    return
                pos_index = 0
                if shuffle:
                    rnd.shuffle(pos_index_lines)
            batch.append(tweet_to_tensor(data_pos[pos_index_lines[pos_index]], vocab_dict))
            pos_index += 1
        for i in range(n_to_take):
            if neg_index >= len(data_neg):
                if not loop:
                    return
                neg_index = 0
                if shuffle:
                    rnd.shuffle(neg_index_lines)
            batch.append(tweet_to_tensor(data_neg[neg_index_lines[neg_index]], vocab_dict))
            neg_index += 1
        max_len = max(len(t) for t in batch)
        inputs = np.array([t + [0] * (max_len - len(t)) for t in batch])
        targets = np.array([1] * n_to_take + [0] * n_to_take)
        example_weights = np.ones_like(targets)
'''),
    "Relu_solution": '''
import course_lib.fastmath.numpy as np   # as in Trax: import trax.fastmath.numpy as np

class Relu(tl.Layer):
    """Relu activation function implementation"""
    def forward(self, x):
        activation = np.maximum(x, 0)
        return activation
''',
    "Dense_solution": '''
class Dense(tl.Layer):
    """A dense (fully-connected) layer."""
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__()
        self._n_units = n_units
        self._init_stdev = init_stdev

    def forward(self, x):
        dense = np.dot(x, self.weights)
        return dense

    def init_weights_and_state(self, input_signature):
        input_shape = input_signature.shape
        w = self._init_stdev * fastmath.random.normal(key=self.rng, shape=(input_shape[-1], self._n_units))
        self.weights = w
        return self.weights
''',
    "classifier_solution": '''
def classifier(vocab_size=9088, embedding_dim=256, output_dim=2, mode='train'):
    embed_layer = tl.Embedding(vocab_size=vocab_size, d_feature=embedding_dim)
    mean_layer = tl.Mean(axis=1)
    dense_output_layer = tl.Dense(n_units=output_dim)
    log_softmax_layer = tl.LogSoftmax()
    model = tl.Serial(embed_layer, mean_layer, dense_output_layer, log_softmax_layer)
    return model
''',
    "train_model_solution": '''
def train_model(classifier, train_task, eval_task, n_steps, output_dir):
    training_loop = training.Loop(classifier, train_task, eval_tasks=[eval_task], output_dir=output_dir)
    training_loop.run(n_steps=n_steps)
    return training_loop
''',
    "compute_accuracy_solution": '''
def compute_accuracy(preds, y, y_weights):
    is_pos = preds[:, 1] > preds[:, 0]
    is_pos_int = is_pos.astype(np.int32)
    correct = is_pos_int == y
    sum_weights = np.sum(y_weights)
    correct_float = correct.astype(np.float32)
    weighted_correct_float = correct_float * y_weights
    weighted_num_correct = np.sum(weighted_correct_float)
    accuracy = weighted_num_correct / sum_weights
    return accuracy, weighted_num_correct, sum_weights
''',
    "test_model_solution": '''
def test_model(generator, model):
    total_num_correct = 0
    total_num_pred = 0
    for batch in generator:
        inputs, targets, example_weight = batch
        pred = model(inputs)
        batch_accuracy, batch_num_correct, batch_num_pred = compute_accuracy(pred, targets, example_weight)
        total_num_correct += batch_num_correct
        total_num_pred += batch_num_pred
    accuracy = np.asarray(total_num_correct / total_num_pred)    # a 0-d JAX array
    return accuracy
''',
}

# ---------------------------------------------------------------------------------------------------
# 3. Vectorised and compact: comprehensions, a preallocated input array, jnp.where, x @ W, argmax, float().
VECTORISED = {
    "tweet_to_tensor_solution": '''
def tweet_to_tensor(tweet, vocab_dict, unk_token='__UNK__', verbose=False):
    words = process_tweet(tweet)
    if verbose:
        print(words)
    return [vocab_dict.get(w, vocab_dict[unk_token]) for w in words]
''',
    "data_generator_solution": data_generator_cell('''
        def next_tensor(data, lines, index):
            """The ids of the next tweet and the index after it; (None, index) when the class has run out."""
            if index == len(lines):
                if not loop:
                    return None, index
                index = 0
                if shuffle:
                    rnd.shuffle(lines)
            return tweet_to_tensor(data[lines[index]], vocab_dict), index + 1

        batch = []
        for _ in range(n_to_take):
            tensor, pos_index = next_tensor(data_pos, pos_index_lines, pos_index)
            if tensor is None:
                return
            batch.append(tensor)
        for _ in range(n_to_take):
            tensor, neg_index = next_tensor(data_neg, neg_index_lines, neg_index)
            if tensor is None:
                return
            batch.append(tensor)
        max_len = max(map(len, batch))
        inputs = np.zeros((batch_size, max_len), dtype=np.int32)
        for row, tensor in enumerate(batch):
            inputs[row, :len(tensor)] = tensor
        targets = np.repeat([1, 0], n_to_take)
        example_weights = np.ones(batch_size, dtype=np.int32)
'''),
    "Relu_solution": '''
class Relu(tl.Layer):
    def forward(self, x):
        activation = jnp.where(x > 0, x, 0.0)
        return activation
''',
    "Dense_solution": '''
import jax

class Dense(tl.Layer):
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__()
        self._n_units = n_units
        self._init_stdev = init_stdev

    def forward(self, x):
        return x @ self.weights

    def init_weights_and_state(self, input_signature):
        d_in = input_signature.shape[-1]
        self.weights = jax.random.normal(self.rng, (d_in, self._n_units)) * self._init_stdev
''',
    "classifier_solution": '''
def classifier(vocab_size, embedding_dim=256, output_dim=2):
    return tl.Serial(tl.Embedding(vocab_size, embedding_dim), tl.Mean(axis=1), Dense(output_dim), tl.LogSoftmax())
''',
    "train_model_solution": '''
def train_model(classifier, train_task, eval_task, n_steps, output_dir):
    loop = training.Loop(classifier, train_task, eval_tasks=[eval_task], output_dir=output_dir)
    loop.run(n_steps)
    return loop
''',
    "compute_accuracy_solution": '''
def compute_accuracy(preds, y, y_weights):
    correct = (jnp.argmax(preds, axis=1) == jnp.asarray(y)).astype(jnp.float32)
    weighted_num_correct = float(jnp.sum(correct * y_weights))
    sum_weights = float(jnp.sum(y_weights))
    return weighted_num_correct / sum_weights, weighted_num_correct, sum_weights
''',
    "test_model_solution": '''
def test_model(generator, model):
    counts = [compute_accuracy(model(x), y, w)[1:] for x, y, w in generator]
    return float(sum(c for c, _ in counts) / sum(t for _, t in counts))
''',
}

# ---------------------------------------------------------------------------------------------------
# 4. Trax lets training.Loop take one EvalTask (eval_tasks=eval_task); PENDING below.
SINGLE_EVAL_TASK = {
    "tweet_to_tensor_solution": '''
def tweet_to_tensor(tweet, vocab_dict, unk_token='__UNK__', verbose=False):
    word_l = process_tweet(tweet)
    if verbose:
        print("List of words from the processed tweet:", word_l)
    unk_id = vocab_dict[unk_token]
    tensor_l = list(map(lambda word: vocab_dict.get(word, unk_id), word_l))
    return tensor_l
''',
    "data_generator_solution": data_generator_cell('''
        pos_batch = []
        while len(pos_batch) < n_to_take:
            if pos_index == len(pos_index_lines):
                if not loop:
                    return
                pos_index = 0
                if shuffle:
                    rnd.shuffle(pos_index_lines)
            pos_batch.append(tweet_to_tensor(data_pos[pos_index_lines[pos_index]], vocab_dict))
            pos_index += 1
        neg_batch = []
        while len(neg_batch) < n_to_take:
            if neg_index == len(neg_index_lines):
                if not loop:
                    return
                neg_index = 0
                if shuffle:
                    rnd.shuffle(neg_index_lines)
            neg_batch.append(tweet_to_tensor(data_neg[neg_index_lines[neg_index]], vocab_dict))
            neg_index += 1
        batch = pos_batch + neg_batch
        max_len = max([len(t) for t in batch])
        inputs = np.array([t + [0] * (max_len - len(t)) for t in batch])
        targets = np.array([1] * n_to_take + [0] * n_to_take)
        example_weights = np.ones_like(targets)
'''),
    "Relu_solution": '''
class Relu(tl.Layer):
    def forward(self, x):
        activation = x * (x > 0)
        return activation
''',
    "Dense_solution": '''
class Dense(tl.Layer):
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__()
        self._n_units = n_units
        self._init_stdev = init_stdev

    def forward(self, x):
        dense = jnp.matmul(x, self.weights)
        return dense

    def init_weights_and_state(self, input_signature):
        input_shape = input_signature.shape
        w = fastmath.random.normal(self.rng, shape=(input_shape[-1], self._n_units)) * self._init_stdev
        self.weights = w
''',
    "classifier_solution": '''
def classifier(vocab_size, embedding_dim=256, output_dim=2, mode='train'):
    model = tl.Serial(
        tl.Embedding(vocab_size=vocab_size, d_feature=embedding_dim),
        tl.Mean(axis=1),
        tl.Dense(n_units=output_dim),
        tl.LogSoftmax(),
    )
    return model
''',
    "train_model_solution": '''
def train_model(classifier, train_task, eval_task, n_steps, output_dir):
    training_loop = training.Loop(classifier, train_task, eval_tasks=eval_task, output_dir=output_dir)
    training_loop.run(n_steps=n_steps)
    return training_loop
''',
    "compute_accuracy_solution": '''
def compute_accuracy(preds, y, y_weights):
    is_pos = np.asarray(preds[:, 1] > preds[:, 0])
    correct = is_pos.astype(np.int32) == np.asarray(y)
    sum_weights = np.sum(y_weights)
    weighted_num_correct = np.sum(correct * np.asarray(y_weights))
    accuracy = weighted_num_correct / sum_weights
    return accuracy, weighted_num_correct, sum_weights
''',
    "test_model_solution": '''
def test_model(generator, model):
    total_num_correct, total_num_pred = 0, 0
    for inputs, targets, example_weights in generator:
        _, num_correct, num_pred = compute_accuracy(model(inputs), targets, example_weights)
        total_num_correct += num_correct
        total_num_pred += num_pred
    return total_num_correct / total_num_pred
''',
}

# ---------------------------------------------------------------------------------------------------
# 5. float() around every result; jnp.clip; the index checks with == and a loop over both classes.
FLOATS = {
    "tweet_to_tensor_solution": '''
def tweet_to_tensor(tweet, vocab_dict, unk_token='__UNK__', verbose=False):
    word_l = process_tweet(tweet)
    if verbose:
        print(word_l)
    tensor_l = []
    for word in word_l:
        if word in vocab_dict:
            tensor_l.append(vocab_dict[word])
        else:
            tensor_l.append(vocab_dict[unk_token])
    return tensor_l
''',
    "data_generator_solution": data_generator_cell('''
        batch = []
        for label in (1, 0):
            for _ in range(n_to_take):
                if label == 1:
                    if pos_index == len(pos_index_lines):
                        if not loop:
                            return
                        pos_index = 0
                        if shuffle:
                            rnd.shuffle(pos_index_lines)
                    batch.append(tweet_to_tensor(data_pos[pos_index_lines[pos_index]], vocab_dict))
                    pos_index += 1
                else:
                    if neg_index == len(neg_index_lines):
                        if not loop:
                            return
                        neg_index = 0
                        if shuffle:
                            rnd.shuffle(neg_index_lines)
                    batch.append(tweet_to_tensor(data_neg[neg_index_lines[neg_index]], vocab_dict))
                    neg_index += 1
        max_len = max(len(ids) for ids in batch)
        inputs = np.array([ids + [0] * (max_len - len(ids)) for ids in batch], dtype=np.int32)
        targets = np.array([1] * n_to_take + [0] * n_to_take, dtype=np.int32)
        example_weights = np.ones(batch_size, dtype=np.float32)
'''),
    "Relu_solution": '''
class Relu(tl.Layer):
    def forward(self, x):
        activation = jnp.clip(x, 0, None)
        return activation
''',
    "Dense_solution": '''
class Dense(tl.Layer):
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__()
        self._n_units = n_units
        self._init_stdev = init_stdev

    def forward(self, x):
        dense = jnp.dot(x, self.weights)
        return dense

    def init_weights_and_state(self, input_signature):
        input_shape = input_signature.shape
        w = self._init_stdev * fastmath.random.normal(self.rng, (input_shape[-1], self._n_units))
        self.weights = w
''',
    "classifier_solution": '''
def classifier(vocab_size, embedding_dim=256, output_dim=2):
    embed_layer = tl.Embedding(vocab_size=vocab_size, d_feature=embedding_dim)
    mean_layer = tl.Mean(axis=1)
    dense_output_layer = tl.Dense(n_units=output_dim)
    log_softmax_layer = tl.LogSoftmax()
    return tl.Serial(embed_layer, mean_layer, dense_output_layer, log_softmax_layer)
''',
    "train_model_solution": '''
def train_model(classifier, train_task, eval_task, n_steps, output_dir):
    training_loop = training.Loop(classifier, tasks=train_task, eval_tasks=[eval_task], output_dir=output_dir)
    training_loop.run(n_steps=n_steps)
    return training_loop
''',
    "compute_accuracy_solution": '''
def compute_accuracy(preds, y, y_weights):
    is_pos = np.asarray(preds)[:, 1] > np.asarray(preds)[:, 0]
    correct = (is_pos.astype(np.int32) == np.asarray(y)).astype(np.float32)
    weighted_num_correct = float(np.sum(correct * np.asarray(y_weights)))
    sum_weights = float(np.sum(y_weights))
    accuracy = float(weighted_num_correct / sum_weights)
    return accuracy, weighted_num_correct, sum_weights
''',
    "test_model_solution": '''
def test_model(generator, model):
    total_num_correct = 0.0
    total_num_pred = 0.0
    for inputs, targets, example_weights in generator:
        preds = model(inputs)
        _, batch_num_correct, batch_num_pred = compute_accuracy(preds, targets, example_weights)
        total_num_correct += float(batch_num_correct)
        total_num_pred += float(batch_num_pred)
    accuracy = float(total_num_correct / total_num_pred)
    return accuracy
''',
}

# ---------------------------------------------------------------------------------------------------
# 6. A classifier whose default vocabulary is the notebook's (len(Vocab)) with mode='train', keyword
#    arguments everywhere, and compute_accuracy called with keywords through a default argument.
KEYWORDS = {
    "tweet_to_tensor_solution": '''
def tweet_to_tensor(tweet, vocab_dict, unk_token='__UNK__', verbose=False):
    word_l = process_tweet(tweet)
    if verbose:
        print("List of words from the processed tweet:")
        print(word_l)
    tensor_l = []
    for word in word_l:
        try:
            tensor_l.append(vocab_dict[word])
        except KeyError:
            tensor_l.append(vocab_dict[unk_token])
    return tensor_l
''',
    "data_generator_solution": data_generator_cell('''
        batch = []
        stop = False
        for i in range(n_to_take):
            if pos_index >= len(data_pos):
                if not loop:
                    stop = True
                    break
                pos_index = 0
                if shuffle:
                    rnd.shuffle(pos_index_lines)
            batch.append(tweet_to_tensor(tweet=data_pos[pos_index_lines[pos_index]], vocab_dict=vocab_dict))
            pos_index += 1
        if not stop:
            for i in range(n_to_take):
                if neg_index >= len(data_neg):
                    if not loop:
                        stop = True
                        break
                    neg_index = 0
                    if shuffle:
                        rnd.shuffle(neg_index_lines)
                batch.append(tweet_to_tensor(tweet=data_neg[neg_index_lines[neg_index]], vocab_dict=vocab_dict))
                neg_index += 1
        if stop:
            break
        max_len = max([len(t) for t in batch])
        tensor_pad_l = [t + [0] * (max_len - len(t)) for t in batch]
        inputs = np.array(tensor_pad_l)
        targets = np.array([1] * n_to_take + [0] * n_to_take)
        example_weights = np.ones_like(targets)
'''),
    "Relu_solution": '''
class Relu(tl.Layer):
    def forward(self, x):
        activation = jnp.maximum(0, x)
        return activation
''',
    "Dense_solution": '''
class Dense(tl.Layer):
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__()
        self._n_units = n_units
        self._init_stdev = init_stdev

    def forward(self, x):
        dense = jnp.dot(x, self.weights)
        return dense

    def init_weights_and_state(self, input_signature):
        input_shape = input_signature.shape
        w = fastmath.random.normal(key=self.rng, shape=(input_shape[-1], self._n_units))
        w = w * self._init_stdev
        self.weights = w
''',
    "classifier_solution": '''
def classifier(vocab_size=len(Vocab), embedding_dim=256, output_dim=2, mode='train'):
    embed_layer = tl.Embedding(vocab_size=vocab_size, d_feature=embedding_dim)
    mean_layer = tl.Mean(axis=1)
    dense_output_layer = tl.Dense(n_units=output_dim)
    log_softmax_layer = tl.LogSoftmax()
    model = tl.Serial(embed_layer, mean_layer, dense_output_layer, log_softmax_layer)
    return model
''',
    "train_model_solution": '''
def train_model(classifier, train_task, eval_task, n_steps, output_dir):
    training_loop = training.Loop(model=classifier, tasks=train_task, eval_tasks=[eval_task],
                                  output_dir=output_dir)
    training_loop.run(n_steps=n_steps)
    return training_loop
''',
    "compute_accuracy_solution": '''
def compute_accuracy(preds, y, y_weights):
    is_pos = preds[:, 1] > preds[:, 0]
    is_pos_int = is_pos.astype(jnp.int32)
    correct = is_pos_int == y
    sum_weights = jnp.sum(y_weights)
    weighted_num_correct = jnp.sum(correct.astype(jnp.float32) * y_weights)
    accuracy = weighted_num_correct / sum_weights
    return accuracy, weighted_num_correct, sum_weights
''',
    "test_model_solution": '''
def test_model(generator, model, compute_accuracy=compute_accuracy):
    total_num_correct = 0
    total_num_pred = 0
    for inputs, targets, example_weights in generator:
        pred = model(inputs)
        batch_accuracy, batch_num_correct, batch_num_pred = compute_accuracy(preds=pred, y=targets,
                                                                             y_weights=example_weights)
        total_num_correct += batch_num_correct
        total_num_pred += batch_num_pred
    accuracy = total_num_correct / total_num_pred
    return accuracy
''',
}

# ---------------------------------------------------------------------------------------------------
# 7. NumPy's pad and stack, float32 NumPy scalars, test_model collecting lists and summing at the end.
NUMPY_PAD = {
    "tweet_to_tensor_solution": '''
def tweet_to_tensor(tweet, vocab_dict, unk_token='__UNK__', verbose=False):
    word_l = process_tweet(tweet)
    if verbose:
        print("List of words from the processed tweet:")
        print(word_l)
    unk_ID = vocab_dict[unk_token]
    tensor_l = []
    for word in word_l:
        word_ID = vocab_dict.get(word, unk_ID)
        tensor_l.append(word_ID)
    return tensor_l
''',
    "data_generator_solution": data_generator_cell('''
        tensors = []
        for _ in range(n_to_take):
            if pos_index >= len(pos_index_lines):
                if not loop:
                    return
                if shuffle:
                    rnd.shuffle(pos_index_lines)
                pos_index = 0
            tensors.append(tweet_to_tensor(data_pos[pos_index_lines[pos_index]], vocab_dict))
            pos_index += 1
        for _ in range(n_to_take):
            if neg_index >= len(neg_index_lines):
                if not loop:
                    return
                if shuffle:
                    rnd.shuffle(neg_index_lines)
                neg_index = 0
            tensors.append(tweet_to_tensor(data_neg[neg_index_lines[neg_index]], vocab_dict))
            neg_index += 1
        max_len = max(len(t) for t in tensors)
        inputs = np.stack([np.pad(np.array(t, dtype=np.int64), (0, max_len - len(t))) for t in tensors])
        targets = np.concatenate([np.ones(n_to_take, dtype=np.int64), np.zeros(n_to_take, dtype=np.int64)])
        example_weights = np.ones_like(targets)
'''),
    "Relu_solution": '''
class Relu(tl.Layer):
    """Relu activation function implementation"""
    def forward(self, x):
        activation = jnp.maximum(x, 0.0)
        return activation
''',
    "Dense_solution": '''
class Dense(tl.Layer):
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__()
        self._n_units = n_units
        self._init_stdev = init_stdev

    def forward(self, x):
        dense = jnp.dot(x, self.weights)
        return dense

    def init_weights_and_state(self, input_signature):
        input_shape = input_signature.shape
        key = self.rng
        w = self._init_stdev * fastmath.random.normal(key, shape=(input_shape[-1], self._n_units), dtype=jnp.float32)
        self.weights = w
''',
    "classifier_solution": '''
def classifier(vocab_size=9088, embedding_dim=256, output_dim=2, mode='train'):
    layers = [tl.Embedding(vocab_size, d_feature=embedding_dim), tl.Mean(axis=1), tl.Dense(output_dim),
              tl.LogSoftmax()]
    return tl.Serial(*layers)
''',
    "train_model_solution": '''
def train_model(classifier, train_task, eval_task, n_steps, output_dir):
    training_loop = training.Loop(classifier, train_task, eval_tasks=[eval_task], output_dir=output_dir)
    training_loop.run(n_steps=n_steps)
    return training_loop
''',
    "compute_accuracy_solution": '''
def compute_accuracy(preds, y, y_weights):
    preds = np.array(preds)
    is_pos_int = (preds[:, 1] > preds[:, 0]).astype(np.int32)
    correct = is_pos_int == np.array(y)
    y_weights = np.array(y_weights, dtype=np.float32)
    sum_weights = np.float32(y_weights.sum())
    weighted_num_correct = np.float32((correct * y_weights).sum())
    accuracy = weighted_num_correct / sum_weights
    return accuracy, weighted_num_correct, sum_weights
''',
    "test_model_solution": '''
def test_model(generator, model):
    correct, totals = [], []
    for inputs, targets, weights in generator:
        _, batch_correct, batch_total = compute_accuracy(model(inputs), targets, weights)
        correct.append(batch_correct)
        totals.append(batch_total)
    accuracy = np.sum(correct) / np.sum(totals)
    return accuracy
''',
}

# ---------------------------------------------------------------------------------------------------
# 8. Verbose printing, `.item()` on JAX scalars, a test_model that unpacks with indices.
ITEMS = {
    "tweet_to_tensor_solution": '''
def tweet_to_tensor(tweet, vocab_dict, unk_token='__UNK__', verbose=False):
    word_l = process_tweet(tweet)
    if verbose:
        print("List of words from the processed tweet:")
        print(word_l)
    unk_ID = vocab_dict[unk_token]
    if verbose:
        print(f"The unique integer ID for the unk_token is {unk_ID}")
    tensor_l = [vocab_dict[word] if word in vocab_dict else unk_ID for word in word_l]
    return tensor_l
''',
    "data_generator_solution": data_generator_cell('''
        batch = []
        for i in range(n_to_take):
            if pos_index >= len(data_pos):
                if not loop:
                    return
                pos_index = 0
                if shuffle:
                    rnd.shuffle(pos_index_lines)
            tweet = data_pos[pos_index_lines[pos_index]]
            batch.append(tweet_to_tensor(tweet, vocab_dict))
            pos_index = pos_index + 1
        for i in range(n_to_take):
            if neg_index >= len(data_neg):
                if not loop:
                    return
                neg_index = 0
                if shuffle:
                    rnd.shuffle(neg_index_lines)
            tweet = data_neg[neg_index_lines[neg_index]]
            batch.append(tweet_to_tensor(tweet, vocab_dict))
            neg_index = neg_index + 1
        max_len = max([len(t) for t in batch])
        tensor_pad_l = []
        for tensor in batch:
            tensor_pad_l.append(tensor + [0] * (max_len - len(tensor)))
        inputs = np.array(tensor_pad_l)
        targets = np.array([1] * n_to_take + [0] * n_to_take)
        example_weights = np.ones_like(targets)
'''),
    "Relu_solution": '''
class Relu(tl.Layer):
    def forward(self, x):
        ### START CODE HERE ###
        activation = jnp.maximum(x, jnp.zeros_like(x))
        ### END CODE HERE ###
        return activation
''',
    "Dense_solution": '''
class Dense(tl.Layer):
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__()
        self._n_units = n_units
        self._init_stdev = init_stdev

    def forward(self, x):
        return jnp.dot(x, self.weights)

    def init_weights_and_state(self, input_signature):
        input_shape = input_signature.shape
        self.weights = self._init_stdev * fastmath.random.normal(self.rng, shape=(input_shape[-1], self._n_units))
''',
    "classifier_solution": '''
def classifier(vocab_size, embedding_dim=256, output_dim=2):
    model = tl.Serial(
        tl.Embedding(vocab_size, embedding_dim),  # embedding layer
        tl.Mean(axis=1),                          # mean layer
        Dense(n_units=output_dim),                # dense output layer (mine, exercise 4)
        tl.LogSoftmax(),                          # log softmax layer
    )
    return model
''',
    "train_model_solution": '''
def train_model(classifier, train_task, eval_task, n_steps, output_dir):
    rnd.seed(31)
    training_loop = training.Loop(classifier, train_task, eval_tasks=[eval_task], output_dir=output_dir)
    training_loop.run(n_steps=n_steps)
    return training_loop
''',
    "compute_accuracy_solution": '''
def compute_accuracy(preds, y, y_weights):
    is_pos = preds[:, 1] > preds[:, 0]
    correct = jnp.equal(is_pos.astype(jnp.int32), y)
    sum_weights = jnp.sum(y_weights)
    weighted_num_correct = jnp.sum(correct * y_weights)
    accuracy = weighted_num_correct / sum_weights
    return accuracy.item(), weighted_num_correct.item(), sum_weights.item()
''',
    "test_model_solution": '''
def test_model(generator, model):
    total_num_correct = 0
    total_num_pred = 0
    for batch in generator:
        pred = model(batch[0])
        result = compute_accuracy(pred, batch[1], batch[2])
        total_num_correct += result[1]
        total_num_pred += result[2]
    return total_num_correct / total_num_pred
''',
}

# ---------------------------------------------------------------------------------------------------
# 9. Another one-EvalTask learner (PENDING), with jnp throughout and a jnp 0-d result.
JNP_EVERYWHERE = {
    "tweet_to_tensor_solution": '''
def tweet_to_tensor(tweet, vocab_dict, unk_token='__UNK__', verbose=False):
    words = process_tweet(tweet)
    if verbose:
        print(words)
    unk = vocab_dict[unk_token]
    return [vocab_dict[w] if w in vocab_dict.keys() else unk for w in words]
''',
    "data_generator_solution": data_generator_cell('''
        batch = []
        while len(batch) < batch_size:
            if len(batch) < n_to_take:
                if pos_index >= len(pos_index_lines):
                    if not loop:
                        return
                    pos_index = 0
                    if shuffle:
                        rnd.shuffle(pos_index_lines)
                batch.append(tweet_to_tensor(data_pos[pos_index_lines[pos_index]], vocab_dict))
                pos_index += 1
            else:
                if neg_index >= len(neg_index_lines):
                    if not loop:
                        return
                    neg_index = 0
                    if shuffle:
                        rnd.shuffle(neg_index_lines)
                batch.append(tweet_to_tensor(data_neg[neg_index_lines[neg_index]], vocab_dict))
                neg_index += 1
        max_len = max(len(t) for t in batch)
        inputs = np.array([t + [0] * (max_len - len(t)) for t in batch])
        targets = np.array([1] * n_to_take + [0] * n_to_take)
        example_weights = np.ones_like(targets)
'''),
    "Relu_solution": '''
class Relu(tl.Layer):
    def forward(self, x):
        return jnp.maximum(x, 0)
''',
    "Dense_solution": '''
class Dense(tl.Layer):
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__()
        self._n_units = n_units
        self._init_stdev = init_stdev

    def forward(self, x):
        return jnp.einsum('bi,io->bo', x, self.weights) if x.ndim == 2 else jnp.dot(x, self.weights)

    def init_weights_and_state(self, input_signature):
        shape = (input_signature.shape[-1], self._n_units)
        self.weights = jnp.asarray(self._init_stdev) * fastmath.random.normal(self.rng, shape)
''',
    "classifier_solution": '''
def classifier(vocab_size=9088, embedding_dim=256, output_dim=2, mode='train'):
    return tl.Serial(
        tl.Embedding(vocab_size=vocab_size, d_feature=embedding_dim),
        tl.Mean(axis=1),
        tl.Dense(n_units=output_dim),
        tl.LogSoftmax())
''',
    "train_model_solution": '''
def train_model(classifier, train_task, eval_task, n_steps, output_dir):
    training_loop = training.Loop(
        classifier,
        train_task,
        eval_tasks=eval_task,
        output_dir=output_dir)
    training_loop.run(n_steps=n_steps)
    return training_loop
''',
    "compute_accuracy_solution": '''
def compute_accuracy(preds, y, y_weights):
    preds, y, y_weights = jnp.asarray(preds), jnp.asarray(y), jnp.asarray(y_weights)
    correct = (preds[:, 1] > preds[:, 0]).astype(jnp.int32) == y
    weighted_num_correct = jnp.sum(jnp.where(correct, y_weights, 0))
    sum_weights = jnp.sum(y_weights)
    return weighted_num_correct / sum_weights, weighted_num_correct, sum_weights
''',
    "test_model_solution": '''
def test_model(generator, model, compute_accuracy=compute_accuracy):
    total_num_correct = jnp.zeros(())
    total_num_pred = jnp.zeros(())
    for inputs, targets, example_weights in generator:
        _, num_correct, num_pred = compute_accuracy(model(inputs), targets, example_weights)
        total_num_correct = total_num_correct + num_correct
        total_num_pred = total_num_pred + num_pred
    return total_num_correct / total_num_pred
''',
}

# ---------------------------------------------------------------------------------------------------
# 10. A keyword-only default argument (compute_accuracy), one loop over both classes in data_generator,
#     NumPy's argmax and dot in compute_accuracy (float64 NumPy scalars), a Relu against a typed zero.
KEYWORD_ONLY = {
    "tweet_to_tensor_solution": '''
def tweet_to_tensor(tweet, vocab_dict, unk_token='__UNK__', verbose=False):
    word_l = process_tweet(tweet)
    if verbose:
        print("words:", word_l)
    return [vocab_dict.get(word, vocab_dict.get(unk_token)) for word in word_l]
''',
    "data_generator_solution": data_generator_cell('''
        batch = []
        for kind in ("pos", "neg"):
            data = data_pos if kind == "pos" else data_neg
            lines = pos_index_lines if kind == "pos" else neg_index_lines
            index = pos_index if kind == "pos" else neg_index
            for _ in range(n_to_take):
                if index == len(lines):
                    if not loop:
                        return
                    index = 0
                    if shuffle:
                        rnd.shuffle(lines)
                batch.append(tweet_to_tensor(data[lines[index]], vocab_dict))
                index += 1
            if kind == "pos":
                pos_index = index
            else:
                neg_index = index
        max_len = max(len(t) for t in batch)
        inputs = np.array([t + [0] * (max_len - len(t)) for t in batch])
        targets = np.array([1] * n_to_take + [0] * n_to_take)
        example_weights = np.ones(batch_size, dtype=int)
'''),
    "Relu_solution": '''
class Relu(tl.Layer):
    def forward(self, x):
        x = jnp.asarray(x)
        activation = jnp.maximum(x, jnp.zeros((), x.dtype))
        return activation
''',
    "Dense_solution": '''
class Dense(tl.Layer):
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__()
        self._n_units = n_units
        self._init_stdev = init_stdev

    def forward(self, x):
        dense = jnp.dot(x, self.weights)
        return dense

    def init_weights_and_state(self, input_signature):
        input_shape = input_signature.shape
        w = self._init_stdev * fastmath.random.normal(self.rng, shape=(input_shape[-1], self._n_units))
        self.weights = w
''',
    "classifier_solution": '''
def classifier(vocab_size, embedding_dim=256, output_dim=2, mode='train'):
    embed_layer = tl.Embedding(vocab_size, embedding_dim)
    mean_layer = tl.Mean(axis=1)
    dense_output_layer = Dense(output_dim)
    log_softmax_layer = tl.LogSoftmax()
    return tl.Serial(embed_layer, mean_layer, dense_output_layer, log_softmax_layer)
''',
    "train_model_solution": '''
def train_model(classifier, train_task, eval_task, n_steps, output_dir):
    eval_tasks = [eval_task]
    loop = training.Loop(classifier, train_task, eval_tasks=eval_tasks, output_dir=output_dir)
    loop.run(n_steps=n_steps)
    return loop
''',
    "compute_accuracy_solution": '''
def compute_accuracy(preds, y, y_weights):
    predictions = np.argmax(np.asarray(preds), axis=-1)
    correct = predictions == np.asarray(y)
    weighted_num_correct = np.dot(correct.astype(np.float64), np.asarray(y_weights, dtype=np.float64))
    sum_weights = np.asarray(y_weights, dtype=np.float64).sum()
    accuracy = weighted_num_correct / sum_weights
    return accuracy, weighted_num_correct, sum_weights
''',
    "test_model_solution": '''
def test_model(generator, model, *, compute_accuracy=compute_accuracy):
    totals = np.zeros(2)
    for inputs, targets, example_weights in generator:
        _, batch_num_correct, batch_num_pred = compute_accuracy(model(inputs), targets, example_weights)
        totals += [batch_num_correct, batch_num_pred]
    return totals[0] / totals[1]
''',
}

# ---------------------------------------------------------------------------------------------------
# 11. A learner who writes in the original's style but with helper variables, `jnp.sum` in
#     compute_accuracy, and a test_model that returns float(jnp...).
HELPERS = {
    "tweet_to_tensor_solution": '''
def tweet_to_tensor(tweet, vocab_dict, unk_token='__UNK__', verbose=False):
    word_l = process_tweet(tweet)
    if verbose:
        print("List of words from the processed tweet:")
        print(word_l)
    known = set(vocab_dict)
    unk_ID = vocab_dict[unk_token]
    tensor_l = [vocab_dict[word] if word in known else unk_ID for word in word_l]
    return tensor_l
''',
    "data_generator_solution": data_generator_cell('''
        len_data_pos, len_data_neg = len(data_pos), len(data_neg)
        batch = []
        for i in range(n_to_take):
            if pos_index >= len_data_pos:
                if not loop:
                    return
                pos_index = 0
                if shuffle:
                    rnd.shuffle(pos_index_lines)
            tweet = data_pos[pos_index_lines[pos_index]]
            tensor = tweet_to_tensor(tweet, vocab_dict)
            batch.append(tensor)
            pos_index += 1
        for i in range(n_to_take):
            if neg_index >= len_data_neg:
                if not loop:
                    return
                neg_index = 0
                if shuffle:
                    rnd.shuffle(neg_index_lines)
            tweet = data_neg[neg_index_lines[neg_index]]
            tensor = tweet_to_tensor(tweet, vocab_dict)
            batch.append(tensor)
            neg_index += 1
        max_len = max([len(t) for t in batch])
        tensor_pad_l = []
        for tensor in batch:
            n_pad = max_len - len(tensor)
            tensor_pad_l.append(tensor + [0] * n_pad)
        inputs = np.array(tensor_pad_l)
        target_l = [1] * n_to_take + [0] * n_to_take
        targets = np.array(target_l)
        example_weights = np.ones_like(targets)
'''),
    "Relu_solution": '''
class Relu(tl.Layer):
    """Relu activation function implementation"""
    def forward(self, x):
        activation = jnp.maximum(x, 0)
        return activation
''',
    "Dense_solution": '''
class Dense(tl.Layer):
    def __init__(self, n_units, init_stdev=0.1):
        super().__init__()
        self._n_units = n_units
        self._init_stdev = init_stdev

    def forward(self, x):
        dense = jnp.dot(x, self.weights)
        return dense

    def init_weights_and_state(self, input_signature):
        input_shape = input_signature.shape
        n_in = input_shape[-1]
        stdev = self._init_stdev
        w = stdev * fastmath.random.normal(key=self.rng, shape=(n_in, self._n_units))
        self.weights = w
        return self.weights
''',
    "classifier_solution": '''
def classifier(vocab_size=9088, embedding_dim=256, output_dim=2, mode='train'):
    embed_layer = tl.Embedding(vocab_size=vocab_size, d_feature=embedding_dim)
    mean_layer = tl.Mean(axis=1)
    dense_output_layer = tl.Dense(n_units=output_dim)
    log_softmax_layer = tl.LogSoftmax()
    model = tl.Serial(embed_layer, mean_layer, dense_output_layer, log_softmax_layer)
    return model
''',
    "train_model_solution": '''
def train_model(classifier, train_task, eval_task, n_steps, output_dir):
    training_loop = training.Loop(classifier, train_task, eval_tasks=[eval_task], output_dir=output_dir)
    training_loop.run(n_steps=n_steps)
    return training_loop
''',
    "compute_accuracy_solution": '''
def compute_accuracy(preds, y, y_weights):
    is_pos = preds[:, 1] > preds[:, 0]
    is_pos_int = is_pos.astype(jnp.int32)
    correct = is_pos_int == y
    sum_weights = jnp.sum(y_weights)
    correct_float = correct.astype(jnp.float32)
    weighted_correct_float = correct_float * y_weights
    weighted_num_correct = jnp.sum(weighted_correct_float)
    accuracy = weighted_num_correct / sum_weights
    return accuracy, weighted_num_correct, sum_weights
''',
    "test_model_solution": '''
def test_model(generator, model):
    accuracy = 0.
    total_num_correct = 0
    total_num_pred = 0
    for batch in generator:
        inputs, targets, example_weight = batch[0], batch[1], batch[2]
        pred = model(inputs)
        batch_accuracy, batch_num_correct, batch_num_pred = compute_accuracy(pred, targets, example_weight)
        total_num_correct += batch_num_correct
        total_num_pred += batch_num_pred
    accuracy = float(jnp.asarray(total_num_correct / total_num_pred))
    return accuracy
''',
}

# ---------------------------------------------------------------------------------------------------
# The error-analysis exercises (9 to 12): each learner above gets one of these answers of each exercise,
# in turn (learner i gets variant i modulo the number of variants).
MISCLASSIFIED = [
    """
def misclassified(tweets, labels, p_positive):
    wrong = []
    for tweet, label, p in zip(tweets, labels, p_positive):
        predicted = 1 if p > 0.5 else 0
        if predicted != label:
            wrong.append((p, label, tweet))
    wrong.sort(key=lambda item: item[0] if item[1] == 0 else 1 - item[0], reverse=True)
    return wrong
""",
    """
def misclassified(tweets, labels, p_positive):
    wrong = [(p, y, t) for t, y, p in zip(tweets, labels, p_positive) if (p > 0.5) != bool(y)]
    return sorted(wrong, key=lambda x: -abs(x[1] - x[0]))
""",
    """
def misclassified(tweets, labels, p_positive):
    p_positive = np.asarray(p_positive)
    labels = np.asarray(labels)
    wrong_class_p = np.where(labels == 1, 1 - p_positive, p_positive)
    order = [i for i in np.argsort(-wrong_class_p) if (p_positive[i] > 0.5) != labels[i]]
    return [(float(p_positive[i]), int(labels[i]), tweets[i]) for i in order]
""",
    """
def misclassified(tweets, labels, p_positive):
    result = []
    for i in range(len(tweets)):
        y_hat = int(p_positive[i] > 0.5)
        if y_hat != labels[i]:
            confidence = p_positive[i] if y_hat == 1 else 1 - p_positive[i]
            result.append([confidence, (p_positive[i], labels[i], tweets[i])])
    result.sort(key=lambda pair: pair[0], reverse=True)
    return [item for _, item in result]
""",
]
REMOVE_EMOTICONS = [
    """
def remove_emoticons(words):
    return [w for w in words if EMOTICON_RE.fullmatch(w) is None]
""",
    """
def remove_emoticons(words):
    return [word for word in words if not bool(EMOTICON_RE.fullmatch(word))]   # one line, as asked
""",
    """
def remove_emoticons(words):
    return list(filter(lambda word: not EMOTICON_RE.fullmatch(word), words))
""",
]
STOPWORDS = [
    """
def stopwords_without_negations(stopwords):
    negations = {"no", "nor", "not"}
    negations |= {w for w in stopwords if w.endswith("n't")}
    negations |= {w for w in stopwords if w + "'t" in stopwords}
    return set(stopwords) - negations
""",
    """
def stopwords_without_negations(stopwords):
    kept = set()
    for word in stopwords:
        if word in ['no', 'nor', 'not']:
            continue
        if word.endswith("n't") or (word + "'t") in stopwords:
            continue
        kept.add(word)
    return kept
""",
    """
def stopwords_without_negations(stopwords):
    def is_negation(w):
        return w in ("no", "nor", "not") or w.endswith("n't") or f"{w}'t" in stopwords
    return frozenset(w for w in stopwords if not is_negation(w))
""",
    """
def stopwords_without_negations(stopwords):
    words = set(stopwords)
    return sorted(w for w in words if not (w in {'no', 'not', 'nor'} or w[-3:] == "n't" or w + "'t" in words))
""",
]
MASKED = [
    """
def masked_classifier(vocab_size, embedding_dim=256, output_dim=2):
    return tl.Serial(tl.Branch(tl.Embedding(vocab_size, embedding_dim), None), tl.MaskedMean(),
                     Dense(output_dim), tl.LogSoftmax())
""",
    """
def masked_classifier(vocab_size, embedding_dim=256, output_dim=2, mode='train'):
    embed_layer = tl.Embedding(vocab_size=vocab_size, d_feature=embedding_dim)
    model = tl.Serial(
        tl.Branch(embed_layer, None),   # (embeddings, ids)
        tl.MaskedMean(),
        tl.Dense(n_units=output_dim),   # Trax's Dense, as in the original course
        tl.LogSoftmax(),
    )
    return model
""",
    """
def masked_classifier(vocab_size, embedding_dim=256, output_dim=2):
    layers = [tl.Branch(tl.Embedding(vocab_size, d_feature=embedding_dim), None), tl.MaskedMean(axis=1),
              Dense(n_units=output_dim), tl.LogSoftmax()]
    return tl.Serial(*layers)
""",
]

CORPUS = {
    "classic": CLASSIC,
    "trax_np": TRAX_NP,
    "vectorised": VECTORISED,
    "single_eval_task": SINGLE_EVAL_TASK,
    "floats": FLOATS,
    "keywords": KEYWORDS,
    "numpy_pad": NUMPY_PAD,
    "items": ITEMS,
    "jnp_everywhere": JNP_EVERYWHERE,
    "keyword_only": KEYWORD_ONLY,
    "helpers": HELPERS,
}

for _i, _answers in enumerate(CORPUS.values()):
    _answers["misclassified_solution"] = MISCLASSIFIED[_i % len(MISCLASSIFIED)]
    _answers["remove_emoticons_solution"] = REMOVE_EMOTICONS[_i % len(REMOVE_EMOTICONS)]
    _answers["stopwords_without_negations_solution"] = STOPWORDS[_i % len(STOPWORDS)]
    _answers["masked_classifier_solution"] = MASKED[_i % len(MASKED)]

# Entries that fail only where this branch's course_lib lacks a change that is on its way: the change,
# and the tests that may fail without it.
PENDING = {
    "single_eval_task": ("training.Loop accepts one EvalTask (eval_tasks=eval_task), as Trax does",
                         {"train_model_visible", "train_model_hidden"}),
    "jnp_everywhere": ("training.Loop accepts one EvalTask (eval_tasks=eval_task), as Trax does",
                       {"train_model_visible", "train_model_hidden"}),
}
